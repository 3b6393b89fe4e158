"""Real calls: baresip dials the shipped Asterisk configuration, which hands the call to our
FastAGI server. Keys go as RFC 4733 events, only once AMI shows the IVR listening (the question's
one `EXEC Read`); the read-backs are confirmed while their number words play, which a key can
only survive if one command plays the words and listens. Runs in CI (TONGDAI_REQUIRE_SERVICES=1).

One scenario, in order, because Asterisk is slow to start and one call builds on the other:
1. a licence application hung up after the citizen id -> a draft;
2. Asterisk is killed (-9) and started again: our AMI client must reconnect;
3. a second call from the same caller id resumes and completes the application, along the way
   hearing its recorded name played back, asking for a person from a question (nobody takes the
   transfer: back to the question), changing one answer at the summary, and hearing the code
   again with `*`;
then the dossier, the recordings, and the AMI call log of both calls are checked.

The calls happen on Thursday 26/11/2026 from 14:25 in Quảng Ngãi (the clock runs from there), so
the operator desk is staffed whatever the time CI runs.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.models import Dossier, Vessel
from intake.runtime import Runtime
from intake.statuses import Delivery, DossierStatus
from ivr.asterisk.agi_server import AgiThread
from ivr.audio import PromptFiles, build_prompts
from ivr.models import CallLog, IvrCall, Recording
from plumbing.db import make_engine, make_session_factory
from plumbing.heartbeat import Heartbeat
from plumbing.settings import Settings
from tests.asterisk.harness import (
    Ami,
    AsteriskProcess,
    Baresip,
    asterisk_root,
    caller_audio,
    free_port,
)
from tests.conftest import _empty_tables, missing_service

CALLER = "0912345678"
LISTENING = ("0123456789*#",)
CALLS_START = dt.datetime(2026, 11, 26, 7, 25, tzinfo=dt.UTC)
PROMPT_CACHE = "var/cache/tongdai-test-prompts"  # in the Asterisk chroot


class ClockFrom:
    """Real time, running from `start`."""

    def __init__(self, start: dt.datetime) -> None:
        self.offset = start - dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


_READ = re.compile(r'^EXEC Read "[^,]*,([^,]*),')


def read_files(command: str) -> list[str]:
    """The files an `EXEC Read` plays (the IVR's one command per question)."""
    match = _READ.match(command)
    return match.group(1).split("&") if match else []


class IvrListener:
    """Follows the IVR's AGI commands on AMI, so the phone presses keys only when heard."""

    def __init__(self, ami: Ami) -> None:
        self.ami = ami

    def _next_exec(self, predicate, timeout: float = 60) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.ami.wait_event("AGIExecStart", timeout=deadline - time.monotonic())
            command = event.get("Command", "")
            if predicate(command):
                return event
        raise AssertionError("the IVR never got there")

    def prompt(self, key: str) -> list[str]:
        """Wait until the IVR plays `key` in a command that takes keys; its files."""
        seen: list[str] = []  # (a subclass's _next_exec may return the command, not the event)

        def plays_it(command: str) -> bool:
            seen.append(command)
            return f"tongdai/{key}" in read_files(command)

        self._next_exec(plays_it)
        return read_files(seen[-1])

    def recording(self) -> None:
        self._next_exec(lambda c: c.startswith("RECORD FILE"))

    def played_back(self) -> None:
        """Wait until the IVR plays a caller's recording back (Asterisk's own file)."""
        self._next_exec(
            lambda c: any(f.startswith("/var/spool/asterisk/recording/") for f in read_files(c))
        )


def press(phone: Baresip, ivr: IvrListener, prompt: str, keys: str) -> None:
    """The keys, one after the other, while the question that plays `prompt` listens."""
    ivr.prompt(prompt)
    phone.send_keys(keys, gap=0.3)


def press_during_the_read_back(phone: Baresip, ivr: IvrListener, files: PromptFiles,
                               prompt: str, key: str) -> None:  # fmt: skip
    """`key` while the read-back's number words play, halfway through them: one command
    plays the words and takes the key, so it cannot fall between two."""
    played = ivr.prompt(prompt)
    keys = [name.removeprefix("tongdai/") for name in played]
    words = [i for i, name in enumerate(keys) if name.startswith("word_")]
    assert len(words) >= 4, played  # a read-back, word by word
    halfway = words[len(words) // 2]
    time.sleep(files.duration_of(keys[:halfway]) + 0.1)
    phone.send_key(key)


def speak(phone: Baresip, ivr: IvrListener, seconds: float = 4.5) -> None:
    """The caller talks (baresip's audio file) after the beep, then ends with #."""
    ivr.recording()
    time.sleep(seconds)
    phone.send_key("#")


def answer_up_to_the_owners_name(phone: Baresip, ivr, vessel: str, citizen_id: str, *,
                                 files: PromptFiles | None = None) -> None:  # fmt: skip
    """A new licence's keypad answers, up to the question that records the owner's name; with
    the prompt `files` (their lengths), the read-backs confirmed while their words play."""

    def confirm(prompt: str) -> None:
        if files is None:
            press(phone, ivr, prompt, "1")
        else:
            press_during_the_read_back(phone, ivr, files, prompt, "1")

    press(phone, ivr, "main_menu", "1")
    press(phone, ivr, "licence_variant", "1")
    press(phone, ivr, "vessel_digits", f"{vessel}#")
    confirm("vessel_is")
    press(phone, ivr, "length_band", "2")
    press(phone, ivr, "citizen_id", f"{citizen_id}#")
    confirm("citizen_id_is")
    press(phone, ivr, "birth_date", "05091975#")
    confirm("birth_date_is")


def answer_from_the_owners_name(phone: Baresip, ivr) -> None:
    """The rest of a new licence: name and address spoken (not heard back), delivery by post,
    SMS to the calling phone, the summary confirmed."""
    speak(phone, ivr)  # owner's name
    press(phone, ivr, "review_choice", "3")
    speak(phone, ivr)  # address
    press(phone, ivr, "review_choice", "3")
    press(phone, ivr, "delivery", "1")
    press(phone, ivr, "phone_own", "1")
    press(phone, ivr, "summary_intro", "1")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_url, base_settings):
    root = asterisk_root()
    if root is None:
        missing_service("Asterisk chroot (scripts/asterisk-chroot.sh build)")
    for tool in ("baresip", "espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            missing_service(tool)
    # The session's database is shared with the other tests of this worker: start from empty
    # tables, or their calls and dossiers would be counted as ours.
    _empty_tables(pg_url)
    work = tmp_path_factory.mktemp("asterisk")
    agi_port = free_port()
    asterisk = AsteriskProcess(root, work / "asterisk", agi_port=agi_port, operator_dial_seconds=5)
    asterisk.start()
    settings = base_settings.model_copy(update={
        "database_url": pg_url, "data_dir": work / "data", "ami_url": asterisk.ami_url,
        "asterisk": base_settings.asterisk.model_copy(
            update={"recording_dir_local": str(asterisk.recording_dir)}),
    })  # fmt: skip
    build_cached_prompts(settings, asterisk)
    engine = make_engine(pg_url)
    runtime = Runtime(settings, engine, make_session_factory(engine), ClockFrom(CALLS_START))
    agi = AgiThread(runtime, "127.0.0.1", agi_port)
    agi.start()
    try:
        yield asterisk, runtime, work
    finally:
        agi.stop()
        asterisk.stop()
        engine.dispose()


def build_cached_prompts(settings: Settings, asterisk: AsteriskProcess) -> None:
    """The prompts in the chroot's sounds folder and in `settings.data_dir`, as `tongdai
    prompts build` makes them. Building all of them takes over a minute (espeak-ng and ffmpeg
    for each), so they are kept between runs in the chroot and only what is missing or stale
    (text, voice: the build's own manifest says) is built again, then copied in. Runs hold the
    Asterisk lock here, so no two write the cache at once."""
    cached = settings.model_copy(update={"data_dir": asterisk.root / PROMPT_CACHE})
    build_prompts(cached, progress=False)
    cache = PromptFiles.of(cached)
    shutil.copytree(cache.asterisk, asterisk.sounds_dir, dirs_exist_ok=True)
    shutil.copytree(cache.root, PromptFiles.of(settings).root, dirs_exist_ok=True)


def _phone(asterisk: AsteriskProcess, work: Path, name: str) -> Baresip:
    audio = caller_audio(work / f"{name}.wav")
    return Baresip(work / name, password=asterisk.sip_password, caller_id=CALLER, audio=audio)


def _wait(read, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while (value := read()) in (None, [], 0, False) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def test_a_licence_by_phone_through_asterisk_with_a_dropped_call(stack):
    asterisk, runtime, work = stack

    # 1. The first call: procedure, variant, vessel and its length, citizen id, date of birth;
    # then the line drops.
    with Ami(asterisk.ami_secret) as ami, _phone(asterisk, work, "first") as phone:
        ivr = IvrListener(ami)
        phone.dial()
        prompt_files = PromptFiles.of(runtime.settings, asterisk.sounds_dir)
        answer_up_to_the_owners_name(phone, ivr, "90617", "012345678901", files=prompt_files)
        ivr.recording()  # the IVR asks for the owner's name ... and the caller hangs up
        phone.hangup()
        ami.wait_event("Hangup", timeout=15)

    def first_call_ended():
        with runtime.sessions() as session:
            return session.scalar(select(IvrCall.end_reason).where(IvrCall.end_reason.is_not(None)))

    assert _wait(first_call_ended) == "hangup"
    with runtime.sessions() as session:
        draft = session.scalars(select(Dossier)).one()
        assert draft.status is DossierStatus.DRAFT
        assert draft.form["ivr"]["citizen_id"] == "012345678901"

    assert _unplayable(asterisk) == []
    # 2. Asterisk crashes and comes back; the AMI client must reconnect by itself.
    asterisk.restart()

    def reconnected():
        with runtime.sessions() as session:
            row = session.get(Heartbeat, "ami")
            return (
                row is not None
                and row.state.get("connections", 0) >= 2
                and row.state.get("connected")
            )

    assert _wait(reconnected, 40), "the AMI client did not reconnect after the restart"

    # 3. The same caller calls again: offered to continue, asked only what is missing.
    with Ami(asterisk.ami_secret) as ami, _phone(asterisk, work, "second") as phone:
        ivr = IvrListener(ami)
        phone.dial()
        press(phone, ivr, "resume_offer", "1")
        speak(phone, ivr)  # owner's name
        press(phone, ivr, "review_choice", "1")  # hear it back
        ivr.played_back()  # then the choice again, in the same command
        time.sleep(2)
        phone.send_key("3")
        speak(phone, ivr)  # address
        press(phone, ivr, "review_choice", "3")
        press(phone, ivr, "delivery", "0")  # a person: no operator phone is registered
        press(phone, ivr, "operator_no_answer", "2")  # back to the question
        press(phone, ivr, "delivery", "1")
        press(phone, ivr, "phone_own", "1")
        press(phone, ivr, "summary_intro", "2")  # change one answer
        press(phone, ivr, "edit_intro", "8")  # the delivery
        press(phone, ivr, "delivery", "2")  # collect at the centre after all
        press(phone, ivr, "summary_intro", "1")
        press(phone, ivr, "submitted", "*")  # the code once more, then silence
        ivr.prompt("code_is")
        ami.wait_event("Hangup", timeout=120)
    assert _unplayable(asterisk) == []

    def received():
        with runtime.sessions() as session:
            return session.scalar(
                select(Dossier.status).where(Dossier.status != DossierStatus.DRAFT)
            )

    assert _wait(received) is DossierStatus.RECEIVED
    with runtime.sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        assert dossier.status is DossierStatus.RECEIVED
        assert session.get(Vessel, dossier.vessel_id).registration_number == "QNg-90617-TS"
        assert dossier.form["citizen_id"] == "012345678901"
        assert dossier.form["date_of_birth"] == "1975-09-05"
        assert session.get(Vessel, dossier.vessel_id).length_band == "12_to_15"
        assert (dossier.delivery, dossier.notify_phone) == (Delivery.COLLECT, "+84912345678")
        recordings = session.scalars(select(Recording).order_by(Recording.id)).all()
        calls = session.scalars(select(IvrCall).order_by(IvrCall.id)).all()
    assert [r.purpose for r in recordings] == ["owner_name_recording", "address_recording"]
    for recording in recordings:
        _assert_speech(runtime.settings.data_dir / recording.path, recording.seconds)

    # Both calls are in the AMI call log with their hang-up causes, the second one logged
    # after the restart by the reconnected client.
    def logged():
        with runtime.sessions() as session:
            rows = session.scalars(select(CallLog).where(
                CallLog.uniqueid.in_([c.provider_call_id for c in calls]),
                CallLog.cause.is_not(None))).all()  # fmt: skip
            return rows if len(rows) == 2 else None

    rows = _wait(logged)
    assert rows and all(row.cause_txt and row.duration_seconds > 0 for row in rows)
    assert all(row.dtmf_count >= 1 for row in rows)


def _unplayable(asterisk: AsteriskProcess) -> list[str]:
    """Read and Playback skip a file they cannot open; Asterisk logs it (its log starts again
    with each start)."""
    return [line for line in asterisk.log_text().splitlines()
            if "does not exist in any format" in line or "Playback failed" in line]  # fmt: skip


def _assert_speech(path: Path, seconds: float) -> None:
    """At least a second of audio, and not silence."""
    from pydub import AudioSegment

    assert seconds >= 1
    sound = AudioSegment.from_file(path)
    assert len(sound) >= 1000
    assert sound.max_dBFS > -30, f"{path.name} is silence ({sound.max_dBFS:.1f} dBFS)"
