"""Column helpers every package's models share (sms, ivr, scheduler as much as intake).

The column types themselves (`UtcDateTime`, `str_enum`, `INTEGER_MAX`) are in `plumbing.db`."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
