"""Plain `create_*` functions that build rows for tests.

Each adds its rows to the caller's session and flushes (ids are set), never commits: the test
decides where its transaction ends. Rows are built the way the application builds them where
that is cheap (a dossier is submitted and moved through the lifecycle, a notice is queued
through the outbox), so a factory cannot produce a row the application never would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import deque
from collections.abc import Mapping

from sqlalchemy.orm import Session

from intake.dossiers import start_draft, submit
from intake.lifecycle import REASON_REQUIRED, TRANSITIONS, Actor, change_status
from intake.models import Applicant, Dossier, Role, StaffUser
from intake.runtime import Runtime
from intake.statuses import Channel, Delivery
from intake.statuses import DossierStatus as S

PHONE = "+84912345678"
STAFF_PASSWORD = "mat-khau-rat-dai-2026"
# Enough for every template a test queues (the outbox ignores the ones a template does not use).
NOTICE_VALUES: Mapping[str, object] = {
    "code": "X-261201-0001",
    "procedure_short": "GP",
    "due": "09/12/2026",
    "new_due": "14/12/2026",
    "reason": "het han",
    "documents": "ban sao CCCD",
    "tracking": "EE123456789VN",
    "status": "Da tiep nhan",
    "papers": "ban chup giay dang ky tau",
    "place": "Cang ca Sa Huynh",
    "time": "08:30 ngay 03/12/2026",
}


# What a complete dossier's required fields hold when a test does not care (config.toml).
REQUIRED_ANSWERS: Mapping[str, str] = {
    "owner_name": "Nguyễn Văn Mười",
    "date_of_birth": "1975-09-05",
    "citizen_id": "051075000123",
    "address": "Thôn An Vĩnh, xã Lý Sơn",
    "vessel_number": "QNg-96169-TS",
    "safety_certificate_number": "123/2026/QNg-ĐKTC",
    "main_gear": "Lưới vây",
}


def create_draft(
    session: Session,
    runtime: Runtime,
    *,
    procedure: str = "fishing_licence",
    now: dt.datetime | None = None,
    phone: str = PHONE,
    form: Mapping[str, object] | None = None,
) -> Dossier:
    """An application a call is still filling in (or left): status draft, no code yet."""
    draft = start_draft(
        session,
        procedure=procedure,
        channel=Channel.PHONE,
        settings=runtime.settings,
        caller_phone=phone,
        now=now or runtime.clock.now(),
    )
    draft.notify_phone = phone
    if form:
        draft.form = {**(draft.form or {}), **form}
    session.flush()
    return draft


def create_dossier(
    session: Session,
    runtime: Runtime,
    *,
    procedure: str = "fishing_licence",
    variant: str | None = "new",
    now: dt.datetime | None = None,
    phone: str = PHONE,
    status: S = S.RECEIVED,
    delivery: Delivery = Delivery.POST,
    owner_name: str | None = None,
    citizen_id: str | None = None,
    address: str | None = None,
    vessel: str | None = None,
    complete: bool = True,
) -> Dossier:
    """A submitted phone-in dossier (code, due date), moved on to `status` by staff through the
    lifecycle's shortest path (every step an event, as on the staff page).

    Given any of `owner_name`, `citizen_id`, `address`, the dossier gets an applicant row with
    them and they go into its form too; `vessel` is the 5 digits of a Quảng Ngãi vessel number.
    `complete` (the default): every other required field is filled before submission, so the
    due date counts from the reception; `complete=False` leaves them empty, as a call does for
    what a keypad cannot enter (no due date until staff complete it).
    """
    now = now or runtime.clock.now()
    draft = create_draft(session, runtime, procedure=procedure, now=now, phone=phone)
    draft.variant = variant
    draft.delivery = delivery
    if complete:
        given = {"owner_name": owner_name, "citizen_id": citizen_id, "address": address}
        draft.form = {
            **REQUIRED_ANSWERS,
            **{key: value for key, value in given.items() if value is not None},
            **(draft.form or {}),
        }
    dossier = submit(
        session,
        draft,
        settings=runtime.settings,
        calendar=runtime.calendar(),
        actor=Actor.system("ivr"),
        now=now,
    )
    owner = {"owner_name": owner_name, "citizen_id": citizen_id, "address": address}
    owner = {key: value for key, value in owner.items() if value is not None}
    if owner:
        applicant = Applicant(phone=phone, name=owner_name, citizen_id=citizen_id, address=address)
        session.add(applicant)
        session.flush()
        dossier.applicant_id = applicant.id
        dossier.form = {**(dossier.form or {}), **owner}
    if vessel is not None:
        from intake.vessels import vessel_for

        dossier.vessel_id = vessel_for(session, "QNg", vessel).id
        dossier.form = {**(dossier.form or {}), "vessel_number": f"QNg-{vessel}-TS"}
    staff = Actor.staff("lan", Role.OPERATOR)
    for step in lifecycle_path(S.RECEIVED, status):
        reason = "lý do thử" if step in REASON_REQUIRED else ""
        details = {"documents": ["Bản sao căn cước"]} if step is S.SUPPLEMENT_REQUESTED else None
        change_status(session, dossier, step, actor=staff, now=now, calendar=runtime.calendar(),
                      reason=reason, details=details)  # fmt: skip
    session.flush()
    return dossier


def lifecycle_path(start: S, goal: S) -> list[S]:
    """The statuses after `start` on a shortest allowed way to `goal` (empty when equal)."""
    came_from: dict[S, S | None] = {start: None}
    waiting = deque([start])
    while waiting:
        status = waiting.popleft()
        for following in sorted(TRANSITIONS[status], key=lambda s: s.value):
            if following not in came_from:
                came_from[following] = status
                waiting.append(following)
    if goal not in came_from:
        raise ValueError(f"no way from {start} to {goal}")
    path: list[S] = []
    status: S | None = goal
    while status is not None and status is not start:
        path.append(status)
        status = came_from[status]
    return path[::-1]


def create_call(
    session: Session,
    *,
    provider: str = "twilio",
    provider_call_id: str | None = None,
    caller: str | None = PHONE,
    dossier_id: int | None = None,
    state: Mapping[str, object] | None = None,
    **fields,
):
    """A call to the IVR (`fields`: any other column, e.g. started_at, outcome)."""
    from ivr.models import IvrCall

    call = IvrCall(
        provider=provider,
        provider_call_id=provider_call_id or uuid.uuid4().hex,
        caller=caller,
        dossier_id=dossier_id,
        state=dict(state or {}),
        **fields,
    )
    session.add(call)
    session.flush()
    return call


def create_recording(
    session: Session,
    *,
    dossier_id: int | None = None,
    path: str | None = None,
    provider: str = "twilio",
    seconds: float = 3,
    purpose: str = "owner_name_recording",
    status=None,
    call_id: int | None = None,
    provider_ref: str = "",
    provider_url: str = "",
    error: str | None = None,
    created_at: dt.datetime | None = None,
    **call_fields,
):
    """A recording of `dossier_id` (stored at `path` under the data dir unless `status` says
    otherwise), on call `call_id` or on a new call made with `call_fields`."""
    from ivr.models import Recording, RecordingStatus

    if call_id is None:
        call_id = create_call(session, provider=provider, dossier_id=dossier_id, **call_fields).id
    recording = Recording(
        call_id=call_id,
        dossier_id=dossier_id,
        purpose=purpose,
        provider=provider,
        provider_ref=provider_ref,
        provider_url=provider_url,
        seconds=seconds,
        status=status or RecordingStatus.STORED,
        path=path,
        error=error,
    )
    if created_at is not None:
        recording.created_at = created_at
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


def create_callback_request(
    session: Session,
    *,
    phone: str | None = PHONE,
    reason: str = "operator_busy",
    call_id: int | None = None,
    dossier_id: int | None = None,
    recording_id: int | None = None,
    **fields,
):
    """A caller waiting to be phoned back (`fields`: created_at, closed_at, note, ...)."""
    from ivr.models import CallbackRequest

    callback = CallbackRequest(
        phone=phone,
        reason=reason,
        call_id=call_id,
        dossier_id=dossier_id,
        recording_id=recording_id,
        **fields,
    )
    session.add(callback)
    session.flush()
    return callback


def create_notice(
    session: Session,
    runtime: Runtime,
    *,
    kind: str = "stopped",
    phone: str = "0912345678",
    values: Mapping[str, object] | None = None,
    now: dt.datetime | None = None,
    dossier: Dossier | None = None,
    dedupe_key: str | None = None,
):
    """A pending SMS queued through the outbox as the application queues one (None when the
    number cannot receive SMS or the dedupe key is taken)."""
    from sms.outbox import enqueue

    return enqueue(
        session,
        runtime.settings,
        kind=kind,
        phone=phone,
        values={**NOTICE_VALUES, **(values or {})},
        now=now or runtime.clock.now(),
        dossier=dossier,
        dedupe_key=dedupe_key,
    )


def create_staff_user(
    session: Session,
    name: str = "lan",
    role: Role = Role.OPERATOR,
    *,
    password: str = STAFF_PASSWORD,
) -> StaffUser:
    """A staff account, added as `tongdai user add` adds one."""
    from admin.accounts import add_user

    return add_user(session, name, password, role)
