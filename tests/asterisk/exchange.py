"""The set-up the outbound-call end-to-end tests share (the call-back and the notice call): a real
Asterisk with the shipped configuration, SIP phones (baresip) registered on its test endpoints,
an emptied PostgreSQL database, and our AGI process (which places outbound calls through AMI)
started when the test has queued what it should place."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from intake.clock import Clock
from intake.runtime import Runtime
from ivr.asterisk.agi_server import AgiThread
from plumbing.db import make_engine, make_session_factory
from plumbing.settings import Settings
from tests.asterisk.harness import AsteriskProcess, Baresip, asterisk_root, free_port, silence_audio
from tests.conftest import _empty_tables, missing_service


@dataclass
class Exchange:
    asterisk: AsteriskProcess
    engine: Engine
    agi_port: int
    phones: dict[str, Baresip]
    work_dir: Path

    def settings(self, base: Settings, pg_url: str, **update: Any) -> Settings:
        """`base` pointed at this database and this Asterisk's AMI, with `update` on top."""
        return base.model_copy(update={
            "database_url": pg_url, "data_dir": self.work_dir / "data",
            "ami_url": self.asterisk.ami_url, **update,
        })  # fmt: skip

    def runtime(self, settings: Settings, clock: Clock) -> Runtime:
        return Runtime(settings, self.engine, make_session_factory(self.engine), clock)

    @contextlib.contextmanager
    def agi(self, runtime: Runtime) -> Iterator[AgiThread]:
        """Our AGI process, from now on placing what is queued."""
        agi = AgiThread(runtime, "127.0.0.1", self.agi_port)
        agi.start()
        try:
            yield agi
        finally:
            agi.stop()


def asterisk_and_baresip() -> Path:
    """The Asterisk chroot's root, once it and baresip are known to be there (else a skip, or a
    failure under TONGDAI_REQUIRE_SERVICES=1)."""
    root = asterisk_root()
    if root is None:
        missing_service("Asterisk chroot (scripts/asterisk-chroot.sh build)")
    if shutil.which("baresip") is None:
        missing_service("baresip")
    return root


@contextlib.contextmanager
def exchange(
    tmp_path: Path, pg_url: str, phones: Mapping[str, Mapping[str, Any]]
) -> Iterator[Exchange]:
    """Asterisk and the `phones` (name -> Baresip options: `user`, the test endpoint that is
    also the number PJSIP/<number>@<endpoint> rings, and `caller_id`, `answer_mode`), each
    registered before the test goes on."""
    root = asterisk_and_baresip()
    _empty_tables(pg_url)
    agi_port = free_port()
    asterisk = AsteriskProcess(root, tmp_path / "asterisk", agi_port=agi_port)
    asterisk.start()
    engine = make_engine(pg_url)
    try:
        audio = silence_audio(tmp_path / "silence.wav")
        started = {
            name: Baresip(
                tmp_path / name,
                password=asterisk.sip_password,
                audio=audio,
                register=True,
                **options,
            )  # fmt: skip
            for name, options in phones.items()
        }
        with contextlib.ExitStack() as stack:
            for phone in started.values():
                stack.enter_context(phone)
            for phone in started.values():
                phone.wait_registered()
            yield Exchange(asterisk, engine, agi_port, started, tmp_path)
    finally:
        asterisk.stop()
        engine.dispose()
