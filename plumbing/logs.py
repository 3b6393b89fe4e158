"""One log format for every process: time, level, logger, message (no personal data)."""

from __future__ import annotations

import logging
import os


def configure_logging() -> None:
    level = os.environ.get("TONGDAI_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )
    # APScheduler logs every tick at INFO (every 2-3 s): noise that would bury what matters.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (docker stop, systemd) both end the process cleanly.

    Python installs no SIGINT handler when it starts with SIGINT ignored, as it is for a job a
    non-interactive shell puts in the background; and SIGTERM would kill without clean-up.
    """
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
