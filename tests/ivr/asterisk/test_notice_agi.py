"""A notice call over FastAGI (path /notice) with a scripted Asterisk: the notice and its menu
are one Read, and the papers staff typed are said by a synthesised file in the speech folder."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from pydub import AudioSegment
from sqlalchemy import select

from ivr.asterisk.speech_files import SpeechFiles
from sms.models import NoticeCall
from tests.conftest import missing_service
from tests.factories import create_dossier, create_notice
from tests.ivr.asterisk.fake_asterisk import SILENCE, FakeAsterisk

LANDLINE = "02553822123"
TYPED = "Bản sao căn cước công dân, ảnh chụp tàu cá"


@pytest.fixture
def agi_runtime(agi_runtime, tmp_path):
    if shutil.which("espeak-ng") is None:
        missing_service("espeak-ng")
    settings = agi_runtime.settings
    agi_runtime.settings = settings.model_copy(update={
        "notice_calls": settings.notice_calls.model_copy(update={"enabled": True}),
        "asterisk": settings.asterisk.model_copy(update={
            "speech_dir": "/var/lib/tongdai-speech", "speech_dir_local": str(tmp_path / "speech"),
        }),
    })  # fmt: skip
    return agi_runtime


def _notice_call(runtime, documents: str = TYPED) -> int:
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, phone=LANDLINE)
        create_notice(session, runtime, kind="supplement", phone=LANDLINE, dossier=dossier,
                      values={"documents": documents})  # fmt: skip
        return session.scalars(select(NoticeCall.id)).one()


def _answer(port: int, call_id: int, *script) -> FakeAsterisk:
    fake = FakeAsterisk(port, request=f"agi://127.0.0.1/notice?call={call_id}", script=[*script])
    return asyncio.run(fake.call())


def test_typed_papers_are_said_by_a_synthesised_file_in_the_one_read_of_the_notice(
    agi_port, agi_runtime
):
    call_id = _notice_call(agi_runtime)
    fake = _answer(agi_port, call_id, SILENCE, "2")
    speech = SpeechFiles(agi_runtime.settings)
    said = f"/var/lib/tongdai-speech/{speech.name_of(TYPED)}"
    reads = [command for command, _ in fake.transcript if command.startswith("EXEC Read")]
    # The notice, then (silence) once more; each time one Read that also takes the menu key.
    assert len(reads) == 2 and all(f"&{said}&tongdai/notice_supplement_1&" in r for r in reads)
    assert all(r.endswith('tongdai/notice_menu_0,1,,1,6"') for r in reads)
    assert not any(c.startswith(("STREAM FILE", "WAIT FOR DIGIT")) for c, _ in fake.transcript)
    audio = AudioSegment.from_wav(speech.local / f"{speech.name_of(TYPED)}.wav")
    assert (audio.frame_rate, audio.channels, audio.sample_width) == (8000, 1, 2)
    assert len(audio) > 1000 and audio.max_dBFS > -30  # speech, not silence
    assert fake.transcript[-2][0] == 'EXEC Playback "tongdai/notice_confirmed_0"'  # 2 heard


def test_the_same_text_is_synthesised_once_and_the_folder_keeps_the_most_recent(
    agi_runtime, monkeypatch
):
    import ivr.audio

    made: list[str] = []
    speak = ivr.audio.speak_for_asterisk
    monkeypatch.setattr(ivr.audio, "speak_for_asterisk",
                        lambda text, *args: made.append(text) or speak(text, *args))  # fmt: skip
    settings = agi_runtime.settings
    settings = settings.model_copy(update={
        "asterisk": settings.asterisk.model_copy(update={"speech_max_files": 10})})  # fmt: skip
    speech = SpeechFiles(settings)
    first = speech.file_for("EE123456789VN")
    assert speech.file_for("EE123456789VN") == first
    assert made == ["EE123456789VN"]
    for number in range(12):
        speech.file_for(f"Mã bưu gửi số {number}")
    kept = {path.name for path in speech.local.glob("speech-*.wav")}
    assert len(kept) == 10
    assert f"{speech.name_of('Mã bưu gửi số 11')}.wav" in kept
    assert f"{speech.name_of('Mã bưu gửi số 0')}.wav" not in kept  # the oldest went first
