"""Prompt audio files: every key of the prompt catalogue as a sound Asterisk and browsers can play.

Each prompt comes from a human recording when staff have dropped one into `recorded/`, otherwise
from espeak-ng's Vietnamese voice (docs/domain.md "Voices": intelligible but robotic, a fallback).
Under `<data_dir>/prompts/`:

    recorded/<key>.<ext>   human recordings, any format ffmpeg reads
    asterisk/<key>.wav     8 kHz mono 16-bit PCM, what Asterisk's format_wav plays
    web/<key>.mp3          16 kHz mono 32 kbps, for Twilio <Play> and browsers
    manifest.json          key -> {"source", "seconds", "text_sha1"} of what was built

Rebuilds are incremental: a key is rebuilt only when its text, its source or its recording
changed, or when one of its files is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ivr.prompts import prompt_catalogue
from ivr.speech import PAUSE_KEY
from plumbing.settings import Settings

with warnings.catch_warnings():
    # pydub warns on import when ffmpeg is missing; _require says it in one line, when it matters.
    warnings.filterwarnings("ignore", "Couldn't find ffmpeg", RuntimeWarning)
    from pydub import AudioSegment
    from pydub.effects import normalize
    from pydub.exceptions import CouldntDecodeError
    from pydub.silence import detect_leading_silence

ASTERISK_RATE = 8000
WEB_RATE = 16000  # 8 kHz MP3 is MPEG-2.5, which some browsers refuse; 16 kHz is MPEG-2
WEB_BITRATE = "32k"
# espeak-ng's default 175 words/min is hard to follow over a noisy mobile line, and its
# Vietnamese tones blur when rushed; much slower than 140 drags the vowels and sounds broken.
ESPEAK_ARGS = ("-s", "140", "-b", "1")  # -b 1: UTF-8 whatever the locale; voice from config
# espeak-ng ends every utterance with ~0.4 s of silence: a 12-digit number read as 12 files
# would carry 5 s of it. Trimmed to this much at each end, consecutive files sound like one
# sentence with a short pause between words.
EDGE_SILENCE_MS = 100
SILENCE_DBFS = -50.0
PAUSE_MS = 300  # between groups of digits (ivr/speech.py PAUSE)
# A recording's MP3 is for staff, who can wait; callers cannot. Its encoder runs at the lowest
# CPU priority (nice 19: coreutils' `nice`, on every Debian system), so on a busy machine it
# takes only the time the call steps, PostgreSQL and Asterisk leave idle. Only the child: a
# Python thread at nice 19 could be descheduled holding the GIL and stall the event loop.
LOWEST_PRIORITY = ("nice", "-n", "19")


class AudioError(Exception):
    """A prompt could not be built. The message is one line meant for an operator."""


class AudioToolMissing(AudioError):
    """espeak-ng or ffmpeg is not installed."""


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        raise AudioToolMissing(f"{tool} is not installed (on Debian: apt-get install {tool})")


@dataclass(frozen=True)
class PromptFiles:
    """Where the prompt audio lives; `asterisk_dir` overrides `<root>/asterisk`, e.g. a
    `sounds/tongdai` folder so the dialplan can play `tongdai/<key>`."""

    root: Path
    asterisk_dir: Path | None = None

    @classmethod
    def of(cls, settings: Settings, asterisk_dir: Path | None = None) -> PromptFiles:
        return cls(Path(settings.data_dir) / "prompts", asterisk_dir)

    @property
    def recorded(self) -> Path:
        return self.root / "recorded"

    @property
    def asterisk(self) -> Path:
        return self.asterisk_dir or self.root / "asterisk"

    @property
    def web(self) -> Path:
        return self.root / "web"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def asterisk_file(self, key: str) -> Path:
        return self.asterisk / f"{key}.wav"

    def web_file(self, key: str) -> Path:
        return self.web / f"{key}.mp3"

    def recording_of(self, key: str) -> Path | None:
        """The staff recording for `key`, whatever its extension (the first, by name)."""
        if not self.recorded.is_dir():
            return None
        matches = sorted(
            path for path in self.recorded.glob(f"{key}.*")
            if path.is_file() and path.stem == key
        )  # fmt: skip
        return matches[0] if matches else None

    def manifest(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):  # none yet, or damaged: a full rebuild
            return {}

    def duration_of(self, keys: Iterable[str]) -> float:
        """Seconds it takes to play `keys` one after the other (from the manifest)."""
        manifest = self.manifest()
        missing = [key for key in keys if key not in manifest]
        if missing:
            raise KeyError(
                f"prompt {missing[0]!r} has not been built (run `tongdai prompts build`)"
            )
        return sum(manifest[key]["seconds"] for key in keys)

    def available(self, key: str, *, synthetic: bool = True) -> Path | None:
        """The web file for `key`, or None. With `synthetic=False`, only a human recording:
        on Twilio a Google vi-VN `<Say>` beats espeak-ng, so it asks for recordings alone."""
        path = self.web_file(key)
        if not path.exists():
            return None
        if not synthetic and self.manifest().get(key, {}).get("source") != "recorded":
            return None
        return path


@dataclass
class BuildReport:
    """`recorded` counts the keys voiced by a human, whether rebuilt or skipped."""

    total: int = 0
    built: int = 0
    skipped: int = 0
    recorded: int = 0
    seconds: float = 0.0
    root: Path = Path()
    unknown_recordings: list[str] = field(default_factory=list)  # files named after no key

    def summary(self) -> str:
        return (
            f"{self.total} prompts: {self.built} built, {self.skipped} skipped, "
            f"{self.recorded} recorded; {self.seconds:.1f} s of audio in {self.root}"
        )


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _trim(sound: AudioSegment) -> AudioSegment:
    lead = detect_leading_silence(sound, SILENCE_DBFS)
    if lead >= len(sound):
        return sound  # all silence: nothing to trim towards
    tail = detect_leading_silence(sound.reverse(), SILENCE_DBFS)
    return sound[max(0, lead - EDGE_SILENCE_MS) : len(sound) - max(0, tail - EDGE_SILENCE_MS)]


def _load(path: Path) -> AudioSegment:
    try:
        return AudioSegment.from_file(path)
    except CouldntDecodeError as exc:
        raise AudioError(f"{path}: cannot be read as audio") from exc


def _speak(text: str, voice: str) -> AudioSegment:
    with tempfile.TemporaryDirectory(prefix="tongdai-espeak-") as folder:
        wav = Path(folder) / "speech.wav"
        result = subprocess.run(
            ["espeak-ng", "-v", voice, *ESPEAK_ARGS, "-w", str(wav)],
            input=text.encode("utf-8"), capture_output=True, check=False,
        )  # fmt: skip
        if result.returncode != 0 or not wav.exists():
            error = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise AudioError(f"espeak-ng failed on {text!r}: {error[-1] if error else 'no output'}")
        return AudioSegment.from_wav(wav)


@contextmanager
def _written_whole(dst: Path) -> Iterator[Path]:
    """A temporary file beside `dst` to write, moved onto `dst` only when the block succeeds, so
    a call never plays (nor a page serves) a half-written file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(f".{dst.name}.partial")
    try:
        yield partial
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)


def _export(sound: AudioSegment, dst: Path, **options: Any) -> None:
    with _written_whole(dst) as partial:
        sound.export(partial, **options).close()


def _write_asterisk(sound: AudioSegment, dst: Path) -> None:
    sound = sound.set_channels(1).set_frame_rate(ASTERISK_RATE).set_sample_width(2)
    # pydub writes plain PCM WAV itself (no ffmpeg) when given no codec or parameters.
    _export(sound, dst, format="wav")


def _write_web(sound: AudioSegment, dst: Path) -> None:
    sound = sound.set_channels(1).set_frame_rate(WEB_RATE).set_sample_width(2)
    _export(sound, dst, format="mp3", bitrate=WEB_BITRATE)


def speak_for_asterisk(text: str, voice: str, dst: Path) -> float:
    """`text` said by espeak-ng, trimmed and normalised as the prompts are, written as the 8 kHz
    WAV Asterisk plays (through a file of its own, so two processes may race on `dst`);
    returns its seconds. For text nobody recorded (ivr/asterisk/speech_files.py)."""
    _require("espeak-ng")
    sound = normalize(_trim(_speak(text, voice)), headroom=1.0)
    sound = sound.set_channels(1).set_frame_rate(ASTERISK_RATE).set_sample_width(2)
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.stem}.", suffix=".partial")
    os.close(handle)
    try:
        sound.export(partial, format="wav").close()
        os.replace(partial, dst)
    finally:
        Path(partial).unlink(missing_ok=True)
    return len(sound) / 1000


def convert_recording(src: Path, dst_mp3: Path) -> float:
    """A caller's recording (Asterisk or Twilio WAV) as a web MP3; returns its seconds.

    Unlike prompts it is neither trimmed nor normalised: it is what the caller said. ffmpeg
    reads, resamples and encodes it at the lowest CPU priority (`LOWEST_PRIORITY`), rather than
    pydub resampling it in Python under the GIL the FastAGI server's event loop needs."""
    _require("ffmpeg")
    seconds = len(_load(Path(src))) / 1000  # a WAV is read in Python: no ffmpeg at full priority
    with _written_whole(Path(dst_mp3)) as partial:
        result = subprocess.run(
            [*LOWEST_PRIORITY, "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src),
             "-ac", "1", "-ar", str(WEB_RATE), "-b:a", WEB_BITRATE, "-f", "mp3", str(partial)],
            capture_output=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            error = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise AudioError(f"{src}: no MP3 made: {error[-1] if error else 'ffmpeg failed'}")
    return seconds


def build_prompts(
    settings: Settings,
    *,
    asterisk_dir: Path | None = None,
    progress: bool = True,
    keys: Iterable[str] | None = None,
) -> BuildReport:
    """Build the audio of every catalogue key (or of `keys` only) that is missing or stale."""
    files = PromptFiles.of(settings, asterisk_dir)
    catalogue = prompt_catalogue(settings)
    wanted = list(catalogue) if keys is None else list(dict.fromkeys(keys))
    unknown = [key for key in wanted if key not in catalogue]
    if unknown:
        raise AudioError(f"no prompt {unknown[0]!r} in the catalogue")
    manifest = {key: entry for key, entry in files.manifest().items() if key in catalogue}
    voice = settings.ivr.espeak_voice
    jobs = [_Job.plan(files, key, catalogue[key], manifest.get(key), voice) for key in wanted]
    # Checked before the first file is written, so a missing tool is the only line printed.
    if any(job.stale for job in jobs):
        _require("ffmpeg")
    if any(job.stale and job.recording is None for job in jobs):
        _require("espeak-ng")
    report = BuildReport(total=len(wanted), root=files.root)
    if files.recorded.is_dir():
        report.unknown_recordings = sorted(
            path.name for path in files.recorded.iterdir()
            if path.is_file() and not path.name.startswith(".") and path.stem not in catalogue
        )  # fmt: skip
    try:
        for job in tqdm(jobs, desc="prompts", unit="prompt", file=sys.stderr,
                        disable=not progress):  # fmt: skip
            if job.stale:
                manifest[job.key] = job.build(files)
                report.built += 1
            else:
                report.skipped += 1
            report.recorded += job.recording is not None
            report.seconds += manifest[job.key]["seconds"]
    finally:
        if report.built:
            _write_manifest(files, manifest)
    return report


@dataclass(frozen=True)
class _Job:
    key: str
    text: str
    recording: Path | None
    entry: dict[str, Any]  # the manifest entry, less the seconds
    stale: bool

    @classmethod
    def plan(
        cls, files: PromptFiles, key: str, text: str, previous: dict[str, Any] | None, voice: str
    ) -> _Job:
        recording = files.recording_of(key)
        entry: dict[str, Any] = {
            "source": "recorded" if recording else "silence" if key == PAUSE_KEY else "espeak",
            "text_sha1": _sha1(text.encode("utf-8")),
        }
        if recording:
            entry["recording_sha1"] = _sha1(recording.read_bytes())
        elif entry["source"] == "silence":
            entry["milliseconds"] = PAUSE_MS  # another length rebuilds it
        else:
            entry["voice"] = voice  # another voice in config rebuilds the synthetic prompts
        fresh = (
            previous is not None
            and all(previous.get(name) == value for name, value in entry.items())
            and files.asterisk_file(key).exists()
            and files.web_file(key).exists()
        )
        return cls(key, text, recording, entry, stale=not fresh)

    def build(self, files: PromptFiles) -> dict[str, Any]:
        if self.entry["source"] == "silence":
            sound = AudioSegment.silent(duration=PAUSE_MS, frame_rate=ASTERISK_RATE)
        else:
            recording = self.recording
            sound = _load(recording) if recording else _speak(self.text, self.entry["voice"])
            sound = normalize(_trim(sound), headroom=1.0)
        _write_asterisk(sound, files.asterisk_file(self.key))
        _write_web(sound, files.web_file(self.key))
        return {**self.entry, "seconds": round(len(sound) / 1000, 3)}


def _write_manifest(files: PromptFiles, manifest: dict[str, dict[str, Any]]) -> None:
    files.root.mkdir(parents=True, exist_ok=True)
    partial = files.manifest_path.with_name(".manifest.json.partial")
    partial.write_text(
        json.dumps(dict(sorted(manifest.items())), ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    os.replace(partial, files.manifest_path)
