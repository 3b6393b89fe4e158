"""The call benchmarks' shared licence walk (bench/licence_call.py) is today's call, the paced
fake Asterisk walks it through the FastAGI server, the Twilio benches' callers walk it through
waitress a connection per request as nginx does (bench/twilio_call.py), and deaf gaps are
measured as documented (bench/deaf_gaps.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
import time

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bench.agi_calls import paced_script
from bench.deaf_gaps import deaf_gaps, listening
from bench.licence_call import NEW_LICENCE, context_of, new_licence, rehearse, vessel_number
from bench.twilio_call import TwilioCall, post_webhook
from bench.voice_webhooks import ClientJob, Pacing, run_callers
from intake.models import Dossier
from intake.statuses import DossierStatus
from ivr.models import Recording
from tests.conftest import free_port
from tests.ivr.asterisk.fake_asterisk import FakeAsterisk
from tests.ivr.twilio_caller import TOKEN
from tongdai.serve import web_server

TODAY = dt.date(2026, 12, 1)


def test_the_benchmarks_walk_is_the_call_the_flow_asks_today(base_settings):
    heard = rehearse(context_of(base_settings, TODAY), new_licence())
    assert [h.answer.node for h in heard[:-1]] == [a.node for a in new_licence()]
    assert heard[-1].answer.node == "goodbye"


def test_a_walk_the_flow_no_longer_asks_stops_the_benchmark_naming_the_question(base_settings):
    without_birth_date = [a for a in new_licence() if not a.node.startswith("birth_date")]
    with pytest.raises(
        SystemExit, match="answers at 'owner_name' but the call waits at 'birth_date'"
    ):
        rehearse(context_of(base_settings, TODAY), without_birth_date)


def test_a_paced_fake_asterisk_files_the_licence_through_the_agi_server(
    agi_port, agi_runtime, session
):
    # Prompts of no length and no thinking: the pacing machinery, not the clock. The caller
    # hangs up at the code instead of waiting out the silence.
    script = paced_script(list(new_licence())[:-1], random.Random(1), scale=0.0)
    spool = agi_runtime.settings.asterisk.recording_dir_local
    fake = FakeAsterisk(agi_port, script=script, durations=lambda name: 0.0, timed=True,
                        recording_dir=__import__("pathlib").Path(spool))  # fmt: skip
    asyncio.run(fake.call())
    dossier = session.scalars(select(Dossier)).one()
    assert dossier.status is DossierStatus.RECEIVED
    assert dossier.form["date_of_birth"] == "1975-09-05"
    assert len(session.scalars(select(Recording)).all()) == 2
    assert "tongdai/main_menu" in fake.played
    timed = [command for _, _, command in fake.timeline]
    assert timed and timed == [command for command, _ in fake.transcript][: len(timed)]
    assert any(listening(command) for _, _, command in fake.timeline)


def test_the_twilio_benches_callers_file_the_licence_a_connection_per_request(
    voice_app, voice_runtime, session
):
    # Two callers of the webhook ladder (asyncio) and one of the flood bench (a thread) against
    # the server `tongdai web` runs. Waitress keeps at most 100 connections open per process:
    # callers holding theirs between requests would take them all, which nginx never does.
    connections: list[str] = []

    def remembering(environ, start_response):
        connections.append(environ["REMOTE_PORT"])  # the caller's end of the connection
        return voice_app(environ, start_response)

    port = free_port()
    server = web_server(remembering, voice_runtime.settings.web, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        silent = Pacing(prompts=(0.0,) * (len(NEW_LICENCE) + 1), scale=0.0)
        job = ClientJob([port], [TOKEN], 0, 2, [0.0, 0.0], time.time(), silent, seed=1)
        ladder = asyncio.run(run_callers(job))
        call, validator = TwilioCall("+84912000002", vessel_number(2)), RequestValidator(TOKEN)
        while call.next is not None:
            call.answered(*post_webhook(port, call.next, validator)[:2])
    finally:
        server.close()
        thread.join(timeout=5)
    assert ladder["errors"] == [] and ladder["completed"] == 2
    requests = 3 * (len(NEW_LICENCE) + 2)  # the dial-in, the answers, the status callback
    assert len(connections) == requests
    assert len(set(connections)) == requests
    filed = session.scalars(select(Dossier).where(Dossier.status == DossierStatus.RECEIVED))
    assert len(filed.all()) == 3


def test_deaf_gaps_leave_out_prompts_without_keys_and_recordings():
    timeline = [
        (0.0, 1.0, 'STREAM FILE tongdai/main_menu "0123456789*#"'),
        (1.002, 2.0, "WAIT FOR DIGIT 6000"),  # 2 ms deaf
        (2.1, 2.1, 'SET VARIABLE X "1"'),
        (2.3, 3.3, 'STREAM FILE tongdai/owner_name ""'),  # played by design
        (3.4, 7.4, 'RECORD FILE /var/spool/x wav "#" 30000 BEEP s=4'),  # spoken by design
        (7.9, 8.5, 'STREAM FILE tongdai/review_choice "0123456789*#"'),
        (9.0, 9.0, 'SET VARIABLE TONGDAI_NEXT "hangup"'),
    ]
    # The second gap: 2.0 -> 7.9 less the prompt (1 s) and the recording (4 s).
    assert deaf_gaps(timeline) == pytest.approx([0.002, 0.9])
    assert not listening('STREAM FILE tongdai/goodbye ""')
    assert listening("GET DATA tongdai/vessel_digits 6000 6")
