"""Prompt audio: staff recordings first, espeak-ng otherwise, in the formats Asterisk and the web
play, rebuilt only when a prompt's text or recording changes."""

from __future__ import annotations

import array
import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from pydub import AudioSegment
from pydub.generators import Sine

from ivr.audio import AudioError, AudioToolMissing, PromptFiles, build_prompts, convert_recording
from ivr.prompts import prompt_catalogue
from plumbing.settings import Settings
from tests.conftest import ROOT, missing_service

# A config prompt, a number word and a province name: one of each kind, to keep builds quick.
SUBSET = ("greeting", "word_mot", "province_QNg")


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    if not (shutil.which("espeak-ng") and shutil.which("ffmpeg")):
        missing_service("espeak-ng and ffmpeg")
    return base_settings.model_copy(update={"data_dir": tmp_path})


def _manifest(settings: Settings) -> dict:
    return json.loads(PromptFiles.of(settings).manifest_path.read_text(encoding="utf-8"))


def _mtimes(settings: Settings) -> dict[Path, int]:
    root = PromptFiles.of(settings).root
    return {path: path.stat().st_mtime_ns for path in root.glob("*/*") if path.is_file()}


def _tone(path: Path, seconds: float) -> None:
    """A 1 kHz tone as a staff member's recorder would save it: 44.1 kHz stereo."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tone = Sine(1000, sample_rate=44100).to_audio_segment(duration=seconds * 1000, volume=-6)
    tone.set_channels(2).export(path, format="wav")


def _wav(path: Path) -> tuple[wave._wave_params, array.array]:
    with wave.open(str(path), "rb") as file:
        params = file.getparams()
        samples = array.array("h", file.readframes(params.nframes))
    return params, samples


def test_every_prompt_becomes_an_asterisk_wav_and_an_audible_web_mp3(settings):
    report = build_prompts(settings, keys=SUBSET, progress=False)

    files = PromptFiles.of(settings)
    assert (report.total, report.built, report.skipped, report.recorded) == (3, 3, 0, 0)
    for key in SUBSET:
        params, samples = _wav(files.asterisk_file(key))
        assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
        assert params.comptype == "NONE"
        assert max(samples) > 0
        web = AudioSegment.from_file(files.web_file(key), format="mp3")
        assert web.channels == 1 and web.frame_rate in (8000, 16000)
        assert web.duration_seconds > 0.3
        assert web.dBFS > -40 and web.max > 0
        entry = _manifest(settings)[key]
        assert entry["source"] == "espeak"
        assert entry["seconds"] == pytest.approx(params.nframes / 8000, abs=0.01)
    assert report.seconds == pytest.approx(files.duration_of(SUBSET))


def test_a_long_sentence_lasts_longer_than_a_single_word(settings):
    build_prompts(settings, keys=SUBSET, progress=False)

    files = PromptFiles.of(settings)
    assert files.duration_of(["greeting"]) > 3 * files.duration_of(["word_mot"])


def test_espeak_trailing_silence_is_trimmed_so_digits_read_back_at_a_natural_pace(settings):
    build_prompts(settings, keys=["word_mot"], progress=False)

    params, samples = _wav(PromptFiles.of(settings).asterisk_file("word_mot"))
    last_sound = max(i for i, sample in enumerate(samples) if abs(sample) > 100)
    assert (params.nframes - last_sound) / 8000 < 0.2


def test_a_staff_recording_is_used_instead_of_espeak(settings):
    build_prompts(settings, keys=SUBSET, progress=False)
    files = PromptFiles.of(settings)
    _tone(files.recorded / "greeting.wav", 1.5)

    report = build_prompts(settings, keys=SUBSET, progress=False)

    assert (report.built, report.skipped, report.recorded) == (1, 2, 1)
    assert _manifest(settings)["greeting"]["source"] == "recorded"
    params, samples = _wav(files.asterisk_file("greeting"))
    assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
    assert params.nframes / 8000 == pytest.approx(1.5, abs=0.02)
    crossings = sum((a < 0) != (b < 0) for a, b in zip(samples, samples[1:], strict=False))
    assert crossings / 1.5 / 2 == pytest.approx(1000, rel=0.05)  # still the 1 kHz tone
    assert files.duration_of(["greeting"]) == pytest.approx(1.5, abs=0.02)


def test_a_replaced_recording_is_rebuilt_and_a_removed_one_falls_back_to_espeak(settings):
    files = PromptFiles.of(settings)
    _tone(files.recorded / "greeting.wav", 1.5)
    build_prompts(settings, keys=["greeting"], progress=False)

    _tone(files.recorded / "greeting.wav", 2.0)
    assert build_prompts(settings, keys=["greeting"], progress=False).built == 1
    assert files.duration_of(["greeting"]) == pytest.approx(2.0, abs=0.02)

    (files.recorded / "greeting.wav").unlink()
    assert build_prompts(settings, keys=["greeting"], progress=False).built == 1
    assert _manifest(settings)["greeting"]["source"] == "espeak"


def test_a_second_build_skips_every_prompt_and_rewrites_nothing(settings):
    build_prompts(settings, keys=SUBSET, progress=False)
    before = _mtimes(settings)

    report = build_prompts(settings, keys=SUBSET, progress=False)

    assert (report.built, report.skipped) == (0, 3)
    assert _mtimes(settings) == before
    assert report.seconds == pytest.approx(PromptFiles.of(settings).duration_of(SUBSET))


def test_a_deleted_output_file_is_rebuilt(settings):
    build_prompts(settings, keys=SUBSET, progress=False)
    PromptFiles.of(settings).web_file("word_mot").unlink()

    report = build_prompts(settings, keys=SUBSET, progress=False)

    assert (report.built, report.skipped) == (1, 2)
    assert PromptFiles.of(settings).web_file("word_mot").exists()


def test_changing_a_prompts_text_in_config_rebuilds_only_that_prompt(settings):
    build_prompts(settings, keys=SUBSET, progress=False)
    before, old = _mtimes(settings), _manifest(settings)
    edited = settings.model_copy(update={"prompts": {**settings.prompts, "greeting": "Xin chào."}})

    report = build_prompts(edited, keys=SUBSET, progress=False)

    assert (report.built, report.skipped) == (1, 2)
    new = _manifest(edited)
    assert new["greeting"]["text_sha1"] != old["greeting"]["text_sha1"]
    assert new["greeting"]["seconds"] < old["greeting"]["seconds"]
    changed = {path.name for path, mtime in _mtimes(edited).items() if before.get(path) != mtime}
    assert changed == {"greeting.wav", "greeting.mp3"}


def test_asterisk_files_can_go_straight_into_a_sounds_folder(settings, tmp_path):
    sounds = tmp_path / "sounds" / "tongdai"

    build_prompts(settings, keys=["word_mot"], asterisk_dir=sounds, progress=False)

    assert (sounds / "word_mot.wav").exists()
    assert not (PromptFiles.of(settings).root / "asterisk").exists()
    assert PromptFiles.of(settings).web_file("word_mot").exists()


def test_duration_of_refuses_a_prompt_that_was_never_built(settings):
    build_prompts(settings, keys=["word_mot"], progress=False)

    with pytest.raises(KeyError, match="word_hai"):
        PromptFiles.of(settings).duration_of(["word_mot", "word_hai"])


def test_available_offers_espeak_files_only_to_front_ends_without_a_better_voice(settings):
    files = PromptFiles.of(settings)
    _tone(files.recorded / "greeting.wav", 1.0)
    build_prompts(settings, keys=["greeting", "word_mot"], progress=False)

    assert files.available("word_mot") == files.web_file("word_mot")
    assert files.available("word_mot", synthetic=False) is None
    assert files.available("greeting", synthetic=False) == files.web_file("greeting")
    assert files.available("word_hai") is None


def test_the_progress_bar_goes_to_stderr_unless_asked_to_be_quiet(settings, capsys):
    build_prompts(settings, keys=["word_mot"], progress=True)
    assert "1/1" in capsys.readouterr().err

    build_prompts(settings, keys=["word_mot"], progress=False)
    assert capsys.readouterr().err == ""


def test_a_recording_with_no_matching_prompt_is_reported(settings):
    _tone(PromptFiles.of(settings).recorded / "greetin.wav", 0.5)

    report = build_prompts(settings, keys=["word_mot"], progress=False)

    assert report.unknown_recordings == ["greetin.wav"]


def test_an_unreadable_recording_fails_the_build_naming_the_file(settings):
    damaged = PromptFiles.of(settings).recorded / "greeting.wav"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not audio")

    with pytest.raises(AudioError, match=r"greeting\.wav: cannot be read as audio"):
        build_prompts(settings, keys=["greeting"], progress=False)


def test_a_callers_recording_converts_to_a_web_mp3_of_the_same_length(settings, tmp_path):
    src = tmp_path / "call.wav"
    Sine(440, sample_rate=8000).to_audio_segment(duration=2500, volume=-10).export(src, "wav")

    seconds = convert_recording(src, tmp_path / "web" / "call.mp3")

    mp3 = AudioSegment.from_file(tmp_path / "web" / "call.mp3", format="mp3")
    assert seconds == pytest.approx(2.5, abs=0.01)
    assert mp3.channels == 1
    assert mp3.duration_seconds == pytest.approx(2.5, abs=0.1)
    assert mp3.dBFS > -30


def test_a_callers_recording_is_encoded_at_the_lowest_cpu_priority(tmp_path, monkeypatch):
    """Staff can wait for the MP3, callers cannot wait for a core: ffmpeg runs at nice 19."""
    src = tmp_path / "call.wav"
    Sine(440, sample_rate=8000).to_audio_segment(duration=1000, volume=-10).export(src, "wav")
    tools = tmp_path / "bin"
    tools.mkdir()
    niceness = tmp_path / "niceness"
    fake = tools / "ffmpeg"  # notes its own niceness (field 19 of /proc/PID/stat), writes an MP3
    fake.write_text(
        "#!/bin/sh\n"
        f"cut -d' ' -f19 /proc/$$/stat > {niceness}\n"
        'for last in "$@"; do :; done\n'
        'printf mp3 > "$last"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")

    convert_recording(src, tmp_path / "call.mp3")

    assert int(niceness.read_text()) == 19
    assert (tmp_path / "call.mp3").read_bytes() == b"mp3"


def test_a_recording_ffmpeg_cannot_encode_fails_naming_the_file(tmp_path, monkeypatch):
    src = tmp_path / "call.wav"
    Sine(440, sample_rate=8000).to_audio_segment(duration=1000, volume=-10).export(src, "wav")
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "ffmpeg").write_text("#!/bin/sh\necho 'Unknown encoder' >&2\nexit 1\n")
    (tools / "ffmpeg").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(AudioError, match=r"call\.wav: no MP3 made: Unknown encoder"):
        convert_recording(src, tmp_path / "call.mp3")
    assert list(tmp_path.glob("*.mp3")) + list(tmp_path.glob(".*partial")) == []


def test_without_ffmpeg_the_build_names_the_debian_package(base_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    settings = base_settings.model_copy(update={"data_dir": tmp_path})

    with pytest.raises(AudioToolMissing, match=r"apt-get install ffmpeg"):
        build_prompts(settings, keys=["word_mot"], progress=False)


def _tongdai(*args: str, data_dir: Path, path: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": path,
        "TONGDAI_DATA_DIR": str(data_dir),
        "TONGDAI_CONFIG": str(ROOT / "config.toml"),
        "TONGDAI_SECRET_KEY": "test-secret",
    }
    return subprocess.run([sys.executable, "-m", "tongdai", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_the_cli_builds_every_prompt_and_prints_a_summary(settings, tmp_path):
    result = _tongdai("prompts", "build", "--quiet", data_dir=tmp_path, path=os.environ["PATH"])

    assert result.returncode == 0, result.stderr
    count = len(prompt_catalogue(settings))
    assert result.stdout.startswith(f"{count} prompts: {count} built, 0 skipped, 0 recorded; ")
    assert result.stdout.rstrip().endswith(f"s of audio in {tmp_path / 'prompts'}")
    assert result.stderr == ""
    assert len(list((tmp_path / "prompts" / "asterisk").glob("*.wav"))) == count


def test_the_cli_reports_a_missing_tool_in_one_line(tmp_path):
    result = _tongdai("prompts", "build", data_dir=tmp_path, path=str(tmp_path / "empty"))

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: ffmpeg is not installed (on Debian: apt-get install ffmpeg)"
    ]
