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
