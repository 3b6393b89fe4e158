"""Dossier codes: `<agency id>-<yyMMdd>-<4-digit sequence>`, e.g. 000.00.53.H48-220921-0099."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.models import DossierCodeCounter


def allocate_sequence(session: Session, agency_id: str, day: dt.date) -> int:
    """The next sequence number for `day`, taken inside the caller's transaction.

    The upsert's row lock makes concurrent transactions wait for each other; the number is only
    used if the transaction commits, so the sequence has no gaps.
    """
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = insert(DossierCodeCounter).values(agency_id=agency_id, day=day, last_seq=1)
    statement = statement.on_conflict_do_update(
        index_elements=["agency_id", "day"],
        set_={"last_seq": DossierCodeCounter.last_seq + 1},
    ).returning(DossierCodeCounter.last_seq)
    return session.execute(statement).scalar_one()


def format_code(agency_id: str, day: dt.date, sequence: int) -> str:
    return f"{agency_id}-{day:%y%m%d}-{sequence:04d}"


def spoken_part(code: str) -> str:
    """The 10 digits read back on the phone: the date and the sequence (`2209210099`)."""
    _, day, sequence = code.rsplit("-", 2)
    return day + sequence
