"""Speech on Asterisk for text nobody recorded: what staff typed (the missing papers, a tracking
number) in a notice call, which Twilio says with <Say>.

The text is said by espeak-ng's Vietnamese voice, the voice `tongdai prompts build` falls back
on (docs/domain.md "Voices"), into an 8 kHz 16-bit mono WAV in `[asterisk] speech_dir`, a folder
the AGI server writes and Asterisk reads (docker-compose.yml: the volume agi-speech), and is
played by its path like any other file. A file is named by a hash of the text and the voice, so
the same text is synthesised once whichever AGI server asks; a file played again is touched, and
beyond `speech_max_files` the least recently played are removed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from plumbing.settings import Settings

log = logging.getLogger(__name__)


class SpeechFiles:
    def __init__(self, settings: Settings) -> None:
        asterisk = settings.asterisk
        self.voice = settings.ivr.espeak_voice
        self.remote = asterisk.speech_dir.rstrip("/")
        self.local = Path(asterisk.speech_dir_local or asterisk.speech_dir)
        self.max_files = asterisk.speech_max_files

    def name_of(self, text: str) -> str:
        key = f"{self.voice}\n{text}".encode()
        return "speech-" + hashlib.sha256(key).hexdigest()[:24]

    def file_for(self, text: str) -> str | None:
        """The file saying `text` as Asterisk names it (its path without extension), made if
        need be; None when it cannot be made (logged: the call goes on without the text).
        Blocking: run it in a worker thread."""
        from ivr.audio import AudioError, speak_for_asterisk

        name = self.name_of(text)
        path = self.local / f"{name}.wav"
        try:
            if path.is_file():
                os.utime(path)  # recently played: the last to be pruned
            else:
                speak_for_asterisk(text, self.voice, path)
                self._prune()
        except (AudioError, OSError) as exc:
            log.warning("agi: cannot synthesise speech into %s (%s)", self.local, exc)
            return None
        return f"{self.remote}/{name}"

    def _prune(self) -> None:
        files = []
        for entry in os.scandir(self.local):
            if entry.name.startswith("speech-") and entry.name.endswith(".wav"):
                try:
                    files.append((entry.stat().st_mtime, entry.path))
                except FileNotFoundError:  # another AGI server pruned it meanwhile
                    continue
        for _mtime, path in sorted(files)[: max(0, len(files) - self.max_files)]:
            Path(path).unlink(missing_ok=True)
