"""Vessels by registration number, created on first mention."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.models import Vessel


def vessel_for(session: Session, province: str | None, digits: str) -> Vessel:
    """The vessel `<province>-<digits>-TS`, created if new.

    Two callers can give the same new number at the same moment: the insert runs in a
    savepoint, and the loser of the race reads the winner's row instead of failing the call.
    A vessel whose province is not known yet (NULL) is never shared: staff complete it.
    """
    existing = _find(session, province, digits)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            vessel = Vessel(province_code=province, digits=digits)
            session.add(vessel)
            session.flush()
            return vessel
    except IntegrityError:
        found = _find(session, province, digits)
        if found is None:
            raise
        return found


def _find(session: Session, province: str | None, digits: str) -> Vessel | None:
    if province is None:
        return None
    return session.scalar(
        select(Vessel).where(Vessel.province_code == province, Vessel.digits == digits)
    )
