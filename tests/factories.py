"""Plain `create_*` functions that build rows for tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from intake.dossiers import start_draft, submit
from intake.lifecycle import Actor
from intake.models import Dossier
from intake.statuses import Channel, Delivery
from tongdai.runtime import Runtime


def create_dossier(
    session: Session,
    runtime: Runtime,
    *,
    procedure: str = "fishing_licence",
    variant: str | None = "new",
    now: dt.datetime | None = None,
    phone: str = "+84912345678",
) -> Dossier:
    """A submitted phone-in dossier (status received, with code and due date)."""
    now = now or runtime.clock.now()
    draft = start_draft(
        session,
        procedure=procedure,
        channel=Channel.PHONE,
        settings=runtime.settings,
        caller_phone=phone,
        now=now,
    )
    draft.variant = variant
    draft.delivery = Delivery.POST
    draft.notify_phone = phone
    return submit(
        session,
        draft,
        settings=runtime.settings,
        calendar=runtime.calendar(),
        actor=Actor.system("ivr"),
        now=now,
    )


def create_recording(
    session: Session,
    *,
    dossier_id: int,
    path: str,
    provider: str = "twilio",
    seconds: float = 3,
    purpose: str = "owner_name_recording",
    **call_fields,
):
    """A call with one stored recording of `dossier_id`, its file at `path` under the data dir."""
    from ivr.models import IvrCall, Recording, RecordingStatus

    call = IvrCall(
        provider=provider,
        provider_call_id=f"CALL-{dossier_id}-{path}",
        state={},
        dossier_id=dossier_id,
        **call_fields,
    )
    session.add(call)
    session.flush()
    recording = Recording(
        call_id=call.id,
        dossier_id=dossier_id,
        purpose=purpose,
        provider=provider,
        seconds=seconds,
        status=RecordingStatus.STORED,
        path=path,
    )
    session.add(recording)
    session.flush()
    return recording


def create_call_order(
    session: Session,
    runtime: Runtime,
    *,
    dossier_id: int | None = None,
    phone: str = "+84912345678",
    status: str = "pending",
    attempts: int = 0,
    result: str = "",
    now: dt.datetime | None = None,
):
    """A staff call-back order, queued (or already in `status`)."""
    from ivr.call_orders import order_call_back
    from ivr.models import CallOrderStatus

    order = order_call_back(
        session,
        dossier_id=dossier_id,
        phone=phone,
        requested_by=None,
        now=now or runtime.clock.now(),
    )
    order.status = CallOrderStatus(status)
    order.attempts = attempts
    order.result = result
    session.flush()
    return order
