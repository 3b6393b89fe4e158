"""Who may hear a dossier's status, and how hard guessing the citizen-id check is made.

The dossier's own phone (the number that filed it or the one that gets its SMS) hears the status
without a question. Any other caller must type the last 4 digits of the owner's citizen id:
10,000 possibilities, and dossier codes are sequential per day, so anyone can name a real code.
Every check is recorded. After `failures_per_dossier` failed checks within `window_hours`, from
any numbers, the check is refused for `block_hours` even with the right digits, and a refusal
sounds exactly like a wrong answer. The block never touches the dossier's own phone: a limit that
locked the owner out would let one caller lock out a whole day's dossiers by walking the codes.
Staff see the block on the dossier page and may lift it.

The per-call limit (a few failed checks in one call) belongs to the call flow, not here.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.audit import record
from intake.models import Dossier, DossierLookupAttempt, DossierLookupBlock
from intake.phone import mask_phone
from plumbing.settings import StatusLookupSettings

log = logging.getLogger(__name__)

OK, WRONG, BLOCKED, UNKNOWN = "ok", "wrong", "blocked", "unknown"


@dataclass(frozen=True)
class LookupLimits:
    failures_per_dossier: int
    window: dt.timedelta
    block: dt.timedelta

    @classmethod
    def of(cls, settings: StatusLookupSettings) -> LookupLimits:
        return cls(
            failures_per_dossier=settings.failures_per_dossier,
            window=dt.timedelta(hours=settings.window_hours),
            block=dt.timedelta(hours=settings.block_hours),
        )


def is_own_phone(dossier: Dossier, caller: str | None) -> bool:
    """The caller (E.164) is the number that filed the dossier or the one its SMS go to."""
    return caller is not None and caller in (dossier.notify_phone, dossier.caller_phone)


def block_in_force(
    session: Session, dossier_id: int, now: dt.datetime
) -> DossierLookupBlock | None:
    block = session.get(DossierLookupBlock, dossier_id)
    return block if block is not None and block.in_force(now) else None


def check_last_digits(
    session: Session,
    dossier_id: int,
    last4: str,
    *,
    caller: str | None,
    limits: LookupLimits,
    now: dt.datetime,
    actor: str,
) -> Dossier | None:
    """The dossier, when `last4` are the last 4 digits of its owner's citizen id and it is not
    blocked; else None. Records the check; the failure that reaches the limit blocks it."""
    # Checks of one dossier run one at a time, so parallel calls cannot each slip a guess in
    # under the limit (a no-op on SQLite, which serialises writers anyway).
    dossier = session.get(Dossier, dossier_id, with_for_update=True)
    if dossier is None:
        record_unknown(session, caller=caller, limits=limits, now=now)
        return None
    block = session.get(DossierLookupBlock, dossier.id)
    citizen_id = (dossier.form or {}).get("citizen_id") or ""
    if block is not None and block.in_force(now):
        result = BLOCKED
    elif len(citizen_id) >= 4 and hmac.compare_digest(citizen_id[-4:].encode(), last4.encode()):
        result = OK
    else:
        result = WRONG
    masked = mask_phone(caller) if caller else "hidden"
    session.add(DossierLookupAttempt(dossier_id=dossier.id, at=now, caller=masked, result=result))
    session.flush()
    if result == WRONG and _failures(session, dossier.id, block, limits, now) >= (
        limits.failures_per_dossier
    ):
        _block(session, dossier, block, limits, now, actor)
    log.info("status check of dossier %d from %s: %s", dossier.id, masked, result)
    return dossier if result == OK else None


def record_unknown(
    session: Session, *, caller: str | None, limits: LookupLimits, now: dt.datetime
) -> None:
    """Record a check of digits for a code that matched no dossier.

    The caller hears the same prompts either way; doing the same kind of work (a row written,
    committed with the step) also narrows how much sooner an unknown code is answered
    (bench/status_lookup_timing.py prints the difference that is left).
    """
    masked = mask_phone(caller) if caller else "hidden"
    session.add(DossierLookupAttempt(dossier_id=None, at=now, caller=masked, result=UNKNOWN))
    session.flush()
    tried = session.scalar(
        select(func.count())
        .select_from(DossierLookupAttempt)
        .where(
            DossierLookupAttempt.dossier_id.is_(None),
            DossierLookupAttempt.caller == masked,
            DossierLookupAttempt.at > now - limits.window,
        )
    )
    # Many unknown codes from one number is someone walking the codes: worth a look in the logs.
    log.info("status check of an unknown code from %s (%d in the window)", masked, tried)


def _failures(
    session: Session,
    dossier_id: int,
    block: DossierLookupBlock | None,
    limits: LookupLimits,
    now: dt.datetime,
) -> int:
    """Failed checks in the window (this one included), not counting those before a lift."""
    since = now - limits.window
    if block is not None and block.lifted_at is not None:
        since = max(since, block.lifted_at)
    return session.scalar(
        select(func.count())
        .select_from(DossierLookupAttempt)
        .where(
            DossierLookupAttempt.dossier_id == dossier_id,
            DossierLookupAttempt.result == WRONG,
            DossierLookupAttempt.at > since,
        )
    )


def _block(
    session: Session,
    dossier: Dossier,
    block: DossierLookupBlock | None,
    limits: LookupLimits,
    now: dt.datetime,
    actor: str,
) -> None:
    if block is None:
        block = DossierLookupBlock(dossier_id=dossier.id)
        session.add(block)
    block.blocked_at = now
    block.blocked_until = now + limits.block
    block.lifted_at = None
    block.lifted_by = None
    record(
        session,
        actor=actor,
        action="status_lookup.blocked",
        target_type="dossier",
        target_id=dossier.id,
        details={"until": block.blocked_until.isoformat(), "failures": limits.failures_per_dossier},
        now=now,
    )
    log.warning("status look-up of dossier %d blocked until %s", dossier.id, block.blocked_until)


def lift_block(session: Session, dossier_id: int, *, actor: str, now: dt.datetime) -> bool:
    """Lift the block in force (False when there is none). Failures before now stop counting."""
    block = block_in_force(session, dossier_id, now)
    if block is None:
        return False
    block.lifted_at = now
    block.lifted_by = actor
    record(
        session,
        actor=actor,
        action="status_lookup.unblocked",
        target_type="dossier",
        target_id=dossier_id,
        details={"was_until": block.blocked_until.isoformat()},
        now=now,
    )
    return True
