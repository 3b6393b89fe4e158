"""The flow over FastAGI, with a scripted Asterisk at the protocol level."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

import plumbing.db
from intake.models import Dossier, Vessel
from intake.statuses import Delivery, DossierStatus
from ivr.asterisk.agi_server import AgiServer
from ivr.models import CallbackRequest, IvrCall, Recording
from scheduler.rules import run_rules
from sms.models import Notice
from tests.conftest import kill_connections
from tests.ivr.asterisk.fake_asterisk import (
    MUTE,
    SILENCE,
    FakeAsterisk,
    Meanwhile,
    Speak,
    keys,
)

# Licence, new; vessel 90617, 12 to under 15 m; citizen id; born 05/09/1975; name, address
# (going on, 3, after each recording); by post; this phone; send; the end of the call goes by
# (silence).
LICENCE = ["1", "1", "90617#", "1", "2", "012345678901#", "1", "05091975#", "1", Speak(3), "3",
           Speak(4), "3", "1", "1", "1", SILENCE]  # fmt: skip


def call(port, agi_runtime, *script, **options) -> FakeAsterisk:
    fake = FakeAsterisk(port, script=keys(*script),
                        recording_dir=agi_runtime.settings.asterisk.recording_dir_local and
                        __import__("pathlib").Path(agi_runtime.settings.asterisk.recording_dir_local),
                        **options)  # fmt: skip
    return asyncio.run(fake.call())


def test_a_whole_licence_application_over_fastagi(agi_port, agi_runtime, session):
    fake = call(agi_port, agi_runtime, *LICENCE)
    assert fake.variables["TONGDAI_NEXT"] == "hangup"
    dossier = session.scalars(select(Dossier)).one()
    assert dossier.status is DossierStatus.RECEIVED
    assert session.get(Vessel, dossier.vessel_id).registration_number == "QNg-90617-TS"
    assert (dossier.form["citizen_id"], dossier.delivery) == ("012345678901", Delivery.POST)
    recordings = session.scalars(select(Recording).order_by(Recording.id)).all()
    assert [r.purpose for r in recordings] == ["owner_name_recording", "address_recording"]
    assert [round(r.seconds) for r in recordings] == [3, 4]
    # Ours from the answer on: Asterisk's WAV copied at once, as MP3 once converted.
    data = agi_runtime.settings.data_dir
    assert all(
        (data / r.path).is_file() or (data / r.path).with_suffix(".mp3").is_file()
        for r in recordings
    )
    assert session.scalars(select(Notice)).all() == []  # the receipt is the notice rules'
    rt = agi_runtime
    run_rules(rt.sessions, rt.settings, rt.calendar(), rt.clock.now())
    # The keypad cannot give the certificate number or the gear: the receipt says what is missing.
    assert session.scalars(select(Notice)).one().kind == "receipt_incomplete"
    assert dossier.form["date_of_birth"] == "1975-09-05" and dossier.due_date is None
    assert session.get(Vessel, dossier.vessel_id).length_band == "12_to_15"
    assert "tongdai/missing_safety_certificate_number" in fake.played
    assert "tongdai/due_when_complete" in fake.played and "tongdai/due_is" not in fake.played
    call_row = session.scalars(select(IvrCall)).one()
    assert (call_row.provider, call_row.provider_call_id) == ("asterisk", "1764100000.1")


def test_a_second_application_for_the_vessel_hears_the_first_and_files_nothing(
    agi_port, agi_runtime, session
):
    call(agi_port, agi_runtime, *LICENCE)
    again = call(agi_port, agi_runtime, "3", "#", *LICENCE[:-1], uniqueid="1764100000.3")
    status_at = again.played.index("tongdai/status_dossier")
    assert "tongdai/main_menu" in again.played[status_at:]  # the menu again after the status
    assert "tongdai/duplicate_open" in again.played[status_at:]
    assert again.variables["TONGDAI_NEXT"] == "hangup"
    received = session.scalars(select(Dossier).where(Dossier.status != DossierStatus.DRAFT))
    assert len(received.all()) == 1


def test_numbers_are_read_back_with_our_vietnamese_digit_audio(agi_port, agi_runtime):
    fake = call(agi_port, agi_runtime, "1", "1", "90617#")  # listens to the whole read-back
    readback = fake.played[fake.played.index("tongdai/vessel_is") :]
    assert readback[:7] == ["tongdai/vessel_is", "tongdai/province_QNg", "tongdai/word_chin",
                            "tongdai/word_khong", "tongdai/word_sau", "tongdai/word_mot",
                            "tongdai/word_bay"]  # fmt: skip
    assert not any(cmd.startswith("SAY") for cmd, _ in fake.transcript)


def test_the_date_of_birth_is_read_back_as_a_date_with_our_word_audio(agi_port, agi_runtime):
    fake = call(agi_port, agi_runtime, "1", "1", "90617#", "1", "2", "012345678901#", "1",
                "05091975#")  # fmt: skip
    assert "tongdai/length_band" in fake.played and "tongdai/birth_date" in fake.played
    readback = fake.played[fake.played.index("tongdai/birth_date_is") :]
    # "ngày năm tháng chín năm một nghìn chín trăm bảy mươi lăm", word by word, then the menu.
    assert readback[1:4] == ["tongdai/word_ngay", "tongdai/word_nam", "tongdai/word_thang"]
    assert readback[-1] == "tongdai/confirm"
    assert not any(cmd.startswith("SAY") for cmd, _ in fake.transcript)


def test_a_key_pressed_during_a_prompt_stops_it_at_once(agi_port, agi_runtime):
    fake = call(agi_port, agi_runtime, "1")
    commands = [cmd for cmd, _ in fake.transcript]
    menu = commands.index('EXEC Read "TONGDAI_KEYS,tongdai/main_menu,1,,1,6"')
    # The key came during the menu: the next prompt is the licence menu.
    assert commands[menu + 1] == "GET VARIABLE TONGDAI_KEYS"
    assert commands[menu + 2].startswith('EXEC Read "TONGDAI_KEYS,tongdai/licence_variant,1,')


def test_a_read_back_and_its_question_are_one_command_that_takes_the_whole_number(
    agi_port, agi_runtime
):
    """Asterisk drops a key that comes while no command listens: a read-back word by word, or
    a WAIT FOR DIGIT per key, would leave gaps between commands to lose keys in."""
    fake = call(agi_port, agi_runtime, "1", "1", "90617#", "1")
    commands = [cmd for cmd, _ in fake.transcript]
    assert 'EXEC Read "TONGDAI_KEYS,tongdai/vessel_digits,6,,1,6"' in commands
    [readback] = [c for c in commands if "tongdai/vessel_is" in c]
    assert readback == (
        'EXEC Read "TONGDAI_KEYS,tongdai/vessel_is&tongdai/province_QNg&tongdai/word_chin&'
        "tongdai/word_khong&tongdai/word_sau&tongdai/word_mot&tongdai/word_bay&"
        'tongdai/vessel_suffix&tongdai/vessel_confirm,1,,1,6"'
    )
    assert not any(c.startswith(("STREAM FILE", "WAIT FOR DIGIT")) for c in commands)


def test_the_greeting_cannot_be_skipped(agi_port, agi_runtime):
    fake = call(agi_port, agi_runtime)
    assert fake.transcript[0][0] == 'EXEC Playback "tongdai/greeting"'


@pytest.mark.parametrize("style", ["hangup-line", "511", "close"])
def test_a_hang_up_in_any_form_keeps_the_draft(agi_port, agi_runtime, session, style):
    call(agi_port, agi_runtime, "1", "1", "90617#", "1", hangup_style=style)
    draft = session.scalars(select(Dossier)).one()
    assert draft.status is DossierStatus.DRAFT and draft.form["ivr"]["vessel"] == "QNg:90617"
    assert _eventually(lambda: _end_reason(agi_runtime)) == "hangup"


def _end_reason(runtime) -> str | None:
    with runtime.sessions() as fresh:
        return fresh.scalars(select(IvrCall.end_reason)).one()


def _eventually(read, seconds: float = 5.0):
    """The server records the end in its own thread, just after the socket closes."""
    deadline = time.monotonic() + seconds
    while (value := read()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_database_restart_mid_call_does_not_drop_the_call(
    agi_port, agi_runtime, session, monkeypatch
):
    monkeypatch.setattr(plumbing.db, "PING_IF_IDLE_SECONDS", 3600.0)  # the retry, not the ping
    restart = Meanwhile(lambda: kill_connections(agi_runtime.engine.url))
    call(agi_port, agi_runtime, "1", restart, "2", "1")  # a re-issue: the licence was lost
    draft = session.scalars(select(Dossier)).one()
    assert (draft.variant, draft.form["reissue_reason"]) == ("reissue", "lost")
    assert _eventually(lambda: _end_reason(agi_runtime)) == "hangup"


def test_a_second_call_resumes_where_the_first_dropped(agi_port, agi_runtime, session):
    call(agi_port, agi_runtime, "1", "1", "90617#", "1", "2", "012345678901#", "1", "05091975#",
         "1")  # fmt: skip
    fake = call(agi_port, agi_runtime, "1", Speak(3), "3", Speak(3), "3", "1", "1", "1", SILENCE,
                uniqueid="1764100000.2")  # fmt: skip
    assert "tongdai/resume_offer" in fake.played
    assert "tongdai/vessel_digits" not in fake.played
    assert "tongdai/citizen_id" not in fake.played
    assert session.scalars(select(Dossier)).one().status is DossierStatus.RECEIVED


def test_silence_and_a_mute_recording_are_asked_again(agi_port, agi_runtime, session):
    fake = call(agi_port, agi_runtime, SILENCE, "1", "1", "90617#", "1", "2", "012345678901#",
                "1", "05091975#", "1", MUTE, Speak(2))  # fmt: skip
    # The "1" comes during the explanation of the silence: taken at once, no second menu.
    assert fake.played[:4] == ["tongdai/greeting", "tongdai/main_menu", "tongdai/no_input",
                               "tongdai/licence_variant"]  # fmt: skip
    assert "tongdai/no_recording" in fake.played
    assert session.scalars(select(Recording)).one().purpose == "owner_name_recording"


def test_the_operator_transfer_returns_to_the_dialplan_and_comes_back(agi_port, agi_runtime,
                                                                      session):  # fmt: skip
    # 10:00 on a working day: the operator line is staffed.
    first = call(agi_port, agi_runtime, "0")
    assert first.variables == {"TONGDAI_OPERATOR_NUMBER": "+842553822222",
                               "TONGDAI_NEXT": "operator"}  # fmt: skip
    again = call(agi_port, agi_runtime, "1", Speak(5),
                 request="agi://127.0.0.1/intake?event=transfer_failed&status=BUSY")  # fmt: skip
    # "1" during the first words: leave a message
    assert again.played[:2] == ["tongdai/operator_busy", "tongdai/operator_leave_message"]
    assert again.variables["TONGDAI_NEXT"] == "hangup"
    callback = session.scalars(select(CallbackRequest)).one()
    assert callback.recording_id is not None and callback.phone == "+84912345678"
    assert callback.reason == "operator_busy"


def test_a_transfer_nobody_answers_goes_back_to_the_question(agi_port, agi_runtime, session):
    first = call(agi_port, agi_runtime, "1", "1", "0#")  # 0# at the vessel number
    assert first.variables["TONGDAI_NEXT"] == "operator"
    failed = "agi://127.0.0.1/intake?event=transfer_failed&status=NOANSWER"
    again = call(agi_port, agi_runtime, "2", "90617#", "1", request=failed)
    # "2" during the first words: back to the vessel number, where the caller asked for a person
    assert again.played[:2] == ["tongdai/operator_no_answer", "tongdai/vessel_digits"]
    assert "tongdai/length_band" in again.played  # the vessel confirmed, on to its length
    draft = session.scalars(select(Dossier)).one()
    assert (draft.variant, draft.form["ivr"]["vessel"]) == ("new", "QNg:90617")


def test_a_recording_is_played_back_from_asterisks_own_file(agi_port, agi_runtime, session):
    fake = call(agi_port, agi_runtime, "1", "1", "90617#", "1", "2", "012345678901#", "1",
                "05091975#", "1", Speak(3), "1")  # fmt: skip
    recording = session.scalars(select(Recording)).one()
    assert recording.provider_ref.endswith(".wav")
    at = fake.played.index("tongdai/review_playback")
    assert fake.played[at + 1] == recording.provider_ref.removesuffix(".wav")


def test_a_silent_peer_does_not_block_other_calls(agi_port, agi_runtime, session):
    async def scenario():
        # A peer that connects and says nothing, then a real call alongside it.
        _reader, silent = await asyncio.open_connection("127.0.0.1", agi_port)
        fake = FakeAsterisk(agi_port, script=keys(*LICENCE), uniqueid="1764100000.9",
                            callerid="0987654321")  # fmt: skip
        started = time.monotonic()
        await fake.call()
        silent.close()
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert elapsed < 20
    assert session.scalars(select(Dossier)).one().notify_phone == "+84987654321"


def test_an_unknown_agi_script_is_refused(agi_port, agi_runtime, session):
    fake = call(agi_port, agi_runtime, "1", request="agi://127.0.0.1/other")
    assert fake.variables == {"TONGDAI_NEXT": "hangup"}
    assert session.scalars(select(IvrCall)).all() == []


def test_each_call_logs_the_gaps_between_its_commands_when_it_ends(agi_port, agi_runtime, caplog):
    """The deaf time: from the end of one command that plays or listens to the start of the
    next, when a key typed ahead is lost (operators read these lines)."""
    caplog.set_level(logging.INFO, logger="ivr.asterisk.agi_server")
    fake = call(agi_port, agi_runtime, "1", "1", "90617#", "1")

    def logged():
        lines = [r.getMessage() for r in caplog.records if "deaf time" in r.getMessage()]
        return lines or None

    [line] = _eventually(logged)
    audio = [c for c, _ in fake.transcript if c.startswith(("EXEC Read", "EXEC Playback"))]
    pattern = (r"agi: call \d+ deaf time: (\d+) gaps, p50 [\d.]+ ms, p95 [\d.]+ ms, "
               r"max [\d.]+ ms; flow steps p95 [\d.]+ ms, max [\d.]+ ms; "
               r"queued for a thread p95 [\d.]+ ms, max [\d.]+ ms")  # fmt: skip
    match = re.fullmatch(pattern, line)
    assert match is not None, line
    assert int(match[1]) == len(audio) - 1  # one gap before each command but the first


def test_flow_steps_run_on_threads_of_their_own_one_per_pooled_connection(
    agi_port, agi_runtime, monkeypatch
):
    """Not on asyncio's default executor (6 threads on 2 cores, shared with the AMI call log):
    as many threads as the database pool keeps connections, so a step never waits for one."""
    from ivr.call_service import CallService

    handle, threads = CallService.handle, set()

    def noting_the_thread(self, session, call, event):
        threads.add(threading.current_thread().name)
        return handle(self, session, call, event)

    monkeypatch.setattr(CallService, "handle", noting_the_thread)
    call(agi_port, agi_runtime, "1", "1", "90617#", "1")

    assert threads and all(name.startswith("agi-step") for name in threads)
    workers = AgiServer(agi_runtime)._steps._max_workers
    assert workers == agi_runtime.engine.pool.size()


def test_the_mp3_conversion_never_holds_the_call_and_follows_it(
    agi_port, agi_runtime, session, monkeypatch
):
    """ffmpeg takes some hundred ms a recording: the caller must not wait for it in silence."""
    import ivr.audio

    convert, released, waited_out = ivr.audio.convert_recording, threading.Event(), []

    def slow_convert(source, target):
        if not released.wait(10):  # held until the call is over
            waited_out.append(source)
        return convert(source, target)

    monkeypatch.setattr(ivr.audio, "convert_recording", slow_convert)
    fake = call(agi_port, agi_runtime, *LICENCE)
    released.set()
    assert fake.variables["TONGDAI_NEXT"] == "hangup" and waited_out == []
    data = agi_runtime.settings.data_dir
    deadline = time.monotonic() + 30
    while True:  # then each becomes an MP3 and our WAV copy goes
        session.expire_all()
        paths = [r.path for r in session.scalars(select(Recording).order_by(Recording.id))]
        if all(path.endswith(".mp3") for path in paths) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [Path(path).suffix for path in paths] == [".mp3", ".mp3"]
    assert all((data / path).is_file() for path in paths)
    assert list((data / "recordings").glob("*.wav")) == []


def test_a_recording_is_stored_in_the_transaction_of_the_step_it_answers(
    agi_port, agi_runtime, session, monkeypatch
):
    """After RECORD FILE, one trip to a step thread and one commit, as after a key: the
    recording's row and the flow step that saves it as the answer together (two in a row
    made the commands after a recording the slowest on the FastAGI ladder)."""
    from ivr import engine
    from ivr.call_service import CallService

    add, handle, seen = CallService.add_recording, CallService.handle, []

    def noting_the_store(self, session, call, **fields):
        seen.append(("stored", session.get_transaction()))
        return add(self, session, call, **fields)

    def noting_the_step(self, session, call, event):
        if isinstance(event, engine.Recorded):
            seen.append(("answered", session.get_transaction()))
        return handle(self, session, call, event)

    monkeypatch.setattr(CallService, "add_recording", noting_the_store)
    monkeypatch.setattr(CallService, "handle", noting_the_step)
    call(agi_port, agi_runtime, *LICENCE[: LICENCE.index(Speak(3)) + 1])

    assert [what for what, _ in seen] == ["stored", "answered"]
    assert seen[0][1] is seen[1][1]
    [recording] = session.scalars(select(Recording)).all()
    draft = session.scalars(select(Dossier)).one()
    assert (recording.dossier_id, round(recording.seconds)) == (draft.id, 3)
