"""Dossier codes: `<unit code>-<yyMMdd>-<4-digit sequence>`, e.g. 000.00.53.H48-220921-8001.

The unit code is the centre's `madonvi` at the national portal, so a code is unique nationally.
The province one-stop system numbers its own dossiers under the same unit code from 0001 up; the
phone channel takes its daily sequence from a reserved range (`[onestop] sequence_first` ..
`sequence_last`, 8000-9999), so the two systems can never give the same code.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.errors import DomainError
from intake.models import DossierCodeCounter


class SequenceExhausted(DomainError):
    """Every number of the day's reserved range is taken."""


def allocate_sequence(
    session: Session, agency_id: str, day: dt.date, first: int = 1, last: int = 9999
) -> int:
    """The next sequence number for `day` within `first`..`last`, taken inside the caller's
    transaction.

    The upsert's row lock makes concurrent transactions wait for each other; the number is only
    used if the transaction commits, so the sequence has no gaps.
    """
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = insert(DossierCodeCounter).values(agency_id=agency_id, day=day, last_seq=first)
    # A range moved up during the day starts at its new first number.
    greatest = func.greatest if dialect == "postgresql" else func.max
    statement = statement.on_conflict_do_update(
        index_elements=["agency_id", "day"],
        set_={"last_seq": greatest(DossierCodeCounter.last_seq + 1, first)},
    ).returning(DossierCodeCounter.last_seq)
    sequence = session.execute(statement).scalar_one()
    if sequence > last:
        # The caller's transaction rolls back, so the counter is not moved past the range.
        raise SequenceExhausted(
            f"Đã hết số hồ sơ của ngày {day:%d/%m/%Y} ({first:04d}-{last:04d}); "
            "cần mở rộng khoảng số trong cấu hình."
        )
    return sequence


def format_code(agency_id: str, day: dt.date, sequence: int) -> str:
    return f"{agency_id}-{day:%y%m%d}-{sequence:04d}"


def spoken_part(code: str) -> str:
    """The 10 digits read back on the phone: the date and the sequence (`2209210099`)."""
    _, day, sequence = code.rsplit("-", 2)
    return day + sequence
