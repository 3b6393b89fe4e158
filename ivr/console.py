"""`tongdai call`: the same flow in a terminal, for staff training and for trying it as a caller.

Each prompt is printed in Vietnamese. Type the keys and press Enter ("90617#", "1", "*");
an empty line is silence. When the IVR records, press Enter for a short generated clip, give the
path of a WAV file, or type "-" to stay silent. Ctrl-D hangs up.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from intake.runtime import Runtime
from ivr import engine
from ivr.audio import PromptFiles
from ivr.call_service import CallService
from ivr.prompts import part_keys, prompt_catalogue
from ivr.speech import Playback, text_of


class ConsoleCall:
    def __init__(self, runtime: Runtime, caller: str | None, *, stdin: TextIO = sys.stdin,
                 stdout: TextIO = sys.stdout, play_audio: bool = False) -> None:  # fmt: skip
        self.runtime = runtime
        self.service = CallService(runtime)
        self.caller = caller
        self.stdin = stdin
        self.stdout = stdout
        self.texts = prompt_catalogue(runtime.settings)
        self.files = PromptFiles.of(runtime.settings)
        self.player = shutil.which("aplay") if play_audio else None

    def say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def ask(self, label: str) -> str | None:
        print(f"  {label} > ", end="", file=self.stdout, flush=True)
        line = self.stdin.readline()
        if line == "":
            print("", file=self.stdout)
            return None  # Ctrl-D: the caller hangs up
        return line.strip()

    def run(self) -> int | None:
        """Play the call to its end; returns the call's id."""
        with self.runtime.sessions() as session, session.begin():
            call, _ = self.service.open_call(session, "console", uuid.uuid4().hex, self.caller)
            call_id = call.id
            actions = self.service.handle(session, call, engine.Start())
        self.say(f"📞 Cuộc gọi thử từ {self.caller or 'số ẩn'} (Ctrl-D để gác máy)")
        while True:
            event = self._perform(actions, call_id)
            if event is None:
                break
            with self.runtime.sessions() as session, session.begin():
                call = session.get(type(call), call_id)
                actions = self.service.handle(session, call, event)
        return call_id

    def _perform(self, actions: list[engine.Action], call_id: int) -> engine.Event | None:
        event: engine.Event | None = None
        for action in actions:
            parts = getattr(action, "parts", ())
            self._speak(parts)
            if isinstance(action, engine.Play) and action.gather is not None:
                typed = self.ask("phím bấm")
                event = None if typed is None else engine.Keys(typed)
            elif isinstance(action, engine.RecordAnswer):
                event = self._record(call_id)
            elif isinstance(action, engine.Connect):
                answer = self.ask(
                    f"(chuyển máy tới {action.number}) c: tổng đài viên nghe máy; k: không ai "
                    "nghe; b: máy bận"
                )
                if answer is None or answer.lower() == "c":
                    event = None
                else:
                    event = engine.TransferFailed("busy" if answer.lower() == "b" else "no_answer")
            elif isinstance(action, engine.Hangup):
                event = None
        if event is None:
            self._end(call_id, "completed")
        return event

    def _speak(self, parts: tuple) -> None:
        """Our prompts as text (and audio with --play); a recording of the caller played back
        shows as its file."""
        run: list = []
        for part in (*parts, None):
            if part is not None and not isinstance(part, Playback):
                run.append(part)
                continue
            self._speak_prompts(tuple(run))
            run = []
            if part is not None:
                self.say(f"🔊 (đoạn ghi âm của ông bà: {part.location or 'không còn'})")
                if self.player and part.location and Path(part.location).exists():
                    subprocess.run([self.player, "-q", part.location], check=False)

    def _speak_prompts(self, parts: tuple) -> None:
        text = text_of(parts, self.texts)
        if text:
            self.say(f"🔊 {text}")
        if self.player and parts:
            files = [self.files.asterisk_file(key) for key in part_keys(parts)]
            if all(path.exists() for path in files):
                subprocess.run([self.player, "-q", *map(str, files)], check=False)

    def _record(self, call_id: int) -> engine.Event | None:
        answer = self.ask("(ghi âm) Enter: đoạn ghi âm mẫu; đường dẫn WAV; '-': im lặng")
        if answer is None:
            return None
        if answer == "-":
            return engine.Recorded("", 0.0)
        folder = self.runtime.settings.data_dir / "recordings"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"console-{uuid.uuid4().hex}.wav"
        seconds = _sample_clip(target) if answer == "" else _copy_wav(Path(answer), target)
        if seconds is None:
            self.say("  (không đọc được tệp WAV; coi như im lặng)")
            return engine.Recorded("", 0.0)
        with self.runtime.sessions() as session, session.begin():
            call = session.get(_call_model(), call_id)
            path = str(target.relative_to(self.runtime.settings.data_dir))
            recording = self.service.add_recording(session, call, provider_ref=target.name,
                                                   seconds=seconds, path=path)  # fmt: skip
            return engine.Recorded(str(recording.id), seconds)

    def _end(self, call_id: int, reason: str) -> None:
        with self.runtime.sessions() as session, session.begin():
            self.service.ended(session, session.get(_call_model(), call_id), reason)


def _call_model():
    from ivr.models import IvrCall

    return IvrCall


def _sample_clip(target: Path) -> float:
    """Two seconds of a soft tone standing in for a spoken answer."""
    from pydub.generators import Sine

    clip = Sine(440).to_audio_segment(duration=2000, volume=-20).set_frame_rate(8000)
    clip.set_channels(1).export(target, format="wav")
    return 2.0


def _copy_wav(source: Path, target: Path) -> float | None:
    import wave

    try:
        with wave.open(str(source)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
    except (OSError, wave.Error, EOFError):
        return None
    shutil.copyfile(source, target)
    return seconds


def run_console_call(runtime: Runtime, caller: str | None, play_audio: bool,
                     after: Callable[[], None] | None = None) -> None:  # fmt: skip
    ConsoleCall(runtime, caller, play_audio=play_audio).run()
    if after:
        after()
