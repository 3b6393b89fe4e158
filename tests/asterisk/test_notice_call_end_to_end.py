"""A notice call through a real Asterisk: the AGI process's AMI connection Originates to a baresip
phone that answers by itself; the answered call runs the notice over FastAGI (path /notice), the
citizen hears the papers staff typed (a file espeak-ng made, in the same Read as the notice),
presses 2 and the notice call shows "confirmed". A second phone never answers: the
attempt ends as "no answer" and the call is due again the next day, and is placed again then."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

from pydub import AudioSegment

from intake.clock import FixedClock
from intake.statuses import Delivery
from intake.statuses import DossierStatus as S
from ivr.asterisk.speech_files import SpeechFiles
from sms.models import NoticeCall, NoticeCallOutcome, NoticeCallStatus
from tests.asterisk.exchange import exchange
from tests.conftest import DEFAULT_NOW
from tests.factories import create_dossier, create_notice

LANDLINE = "02553822123"
AT_SEA = "02553822124"


def _wait_for(runtime, call_id, check, timeout=40.0) -> NoticeCall:
    deadline = time.monotonic() + timeout
    while True:
        with runtime.sessions() as session:
            call = session.get(NoticeCall, call_id)
            session.expunge(call)
        if check(call) or time.monotonic() > deadline:
            return call
        time.sleep(0.2)


def _settings(centre, base, pg_url, endpoint):
    calls = base.notice_calls.model_copy(update={
        "enabled": True, "dial": f"PJSIP/{{number}}@{endpoint}", "pace_seconds": 0,
        "ring_seconds": 6,
    })  # fmt: skip
    asterisk = base.asterisk.model_copy(update={
        "callback_poll_seconds": 0.5,
        "speech_dir_local": str(centre.asterisk.root / base.asterisk.speech_dir.lstrip("/")),
    })  # fmt: skip
    return centre.settings(base, pg_url, notice_calls=calls, asterisk=asterisk)


# The phone's own number is its SIP user: PJSIP/<number>@<endpoint> rings it. The citizen's
# answers by itself (baresip's auto mode); the one at sea rings unanswered.
PHONES = {
    "citizen": {"user": "caller", "caller_id": LANDLINE, "answer_mode": "auto"},
    "at-sea": {"user": "operator", "caller_id": AT_SEA},
}
TYPED = "Bản sao căn cước công dân, ảnh chụp tàu cá"


def test_a_notice_call_is_heard_and_confirmed_and_an_unanswered_one_is_retried(
    tmp_path, pg_url, base_settings, caplog
):
    caplog.set_level(logging.DEBUG, logger="ivr.asterisk.agi")  # the AGI conversation
    clock = FixedClock(DEFAULT_NOW)  # a Tuesday, 09:00: inside the calling hours
    with exchange(tmp_path, pg_url, PHONES) as centre:
        settings = _settings(centre, base_settings, pg_url, "caller")
        runtime = centre.runtime(settings, clock)
        citizen, at_sea = centre.phones["citizen"], centre.phones["at-sea"]
        with runtime.sessions() as session, session.begin():
            # Papers are missing: the notice says what staff typed.
            lacking = create_dossier(session, runtime, phone=LANDLINE,
                                     status=S.SUPPLEMENT_REQUESTED)  # fmt: skip
            create_notice(session, runtime, kind="supplement", phone=LANDLINE,
                          values={"documents": TYPED}, dossier=lacking,
                          dedupe_key="heard")  # fmt: skip
            dossier = create_dossier(session, runtime, phone=AT_SEA, status=S.RESULT_READY,
                                     delivery=Delivery.COLLECT)  # fmt: skip
            [heard_id] = [c.id for c in session.query(NoticeCall)]
        with centre.agi(runtime):
            # Answered by itself (baresip's auto mode reports no CALL_INCOMING).
            ringing = citizen.wait_event("CALL_ESTABLISHED", timeout=30)
            answered = _wait_for(runtime, heard_id, lambda c: c.outcome is not None, 15)
            time.sleep(0.5)
            citizen.send_key("2")
            heard = _wait_for(runtime, heard_id, lambda c: c.outcome is NoticeCallOutcome.CONFIRMED)
            # The second citizen's phone rings and nobody picks it up.
            runtime.settings = _settings(centre, base_settings, pg_url, "operator")
            with runtime.sessions() as session, session.begin():
                create_notice(session, runtime, kind="result_ready", phone=AT_SEA,
                              dossier=dossier, dedupe_key="at-sea")  # fmt: skip
                unheard_id = max(c.id for c in session.query(NoticeCall))
            at_sea.wait_event("CALL_INCOMING", timeout=30)
            unheard = _wait_for(runtime, unheard_id, lambda c: c.outcome is not None, 40)
            # The next day, at the same time, it is placed again.
            clock.set(unheard.next_attempt_at)
            at_sea.wait_event("CALL_INCOMING", timeout=30)
            again = _wait_for(runtime, unheard_id, lambda c: c.attempts == 2, 10)
    assert settings.centre.hotline in json.dumps(ringing)  # the citizen sees the centre calling
    assert answered.outcome is NoticeCallOutcome.ANSWERED
    assert (heard.status, heard.outcome, heard.attempts) == (
        NoticeCallStatus.DONE, NoticeCallOutcome.CONFIRMED, 1,
    )  # fmt: skip
    assert (unheard.status, unheard.outcome) == (
        NoticeCallStatus.PENDING, NoticeCallOutcome.NO_ANSWER,
    )  # fmt: skip
    assert unheard.next_attempt_at == DEFAULT_NOW + dt.timedelta(days=1)
    assert again.attempts == 2
    # The typed papers: a synthesised file, played in the same Read as the notice and its menu.
    speech = SpeechFiles(settings)
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("agi> EXEC Read")]
    assert any(f"{settings.asterisk.speech_dir}/{speech.name_of(TYPED)}&" in c for c in sent)
    said = AudioSegment.from_wav(speech.local / f"{speech.name_of(TYPED)}.wav")
    assert (said.frame_rate, said.channels, said.sample_width) == (8000, 1, 2)
    assert len(said) > 1000 and said.max_dBFS > -30  # speech, not silence
