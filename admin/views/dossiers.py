"""The dossier queue and the dossier page: where staff work the phone-in applications.

The queue pages by keyset (due date, id), never by OFFSET, so the last page of a million rows
costs what the first does. An operator claims a dossier before changing it; every change carries
the version the page was loaded with, so a second person editing at the same time is told
instead of overwritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from admin.auth import login_required, now, role_required, runtime
from admin.query import QueryReader
from admin.text_limits import DOCUMENT_MAX_CHARS, SEARCH_MAX_CHARS, too_long
from intake import dossier_queries
from intake.apologies import proposals_of
from intake.audit import record
from intake.completeness import due_date_reason, missing_items, start_clock_if_complete
from intake.dossier_commands import apply_answers, form_values
from intake.dossier_queries import QueueFilters, StaffSearch, parse_staff_search
from intake.errors import DomainError, InvalidInput
from intake.forms import display_value, fields_for, missing_required, validate
from intake.inspections import latest_appointment, set_appointment
from intake.lifecycle import TRANSITIONS, Actor
from intake.lifecycle import move as move_dossier
from intake.models import Applicant, AppointmentStatus, Dossier, ProposalStatus, Role, Vessel
from intake.results import record_dispatch, set_new_date
from intake.routing import processing_authority
from intake.status_lookup import block_in_force, lift_block
from intake.statuses import Channel
from intake.statuses import DossierStatus as S
from intake.vessel_length import vessel_band
from ivr import queries as ivr_queries
from ivr.call_orders import order_call_back
from ivr.models import Recording
from onestop import queries as onestop_queries
from onestop.sync import sync_again
from sms import queries as sms_queries

blueprint = Blueprint("dossiers", __name__, url_prefix="/admin/dossiers")
PAGE = 50
# Which recording feeds which form field, so staff hear the answer next to where they type it.
RECORDING_FIELD = {
    "owner_name_recording": "owner_name",
    "address_recording": "address",
    "vessel_province_recording": "vessel_number",
}
ACTION_LABELS = {
    S.ACCEPTED: "Tiếp nhận hợp lệ",
    S.IN_PROCESS: "Chuyển xử lý",
    S.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung",
    S.PAYMENT_REQUESTED: "Yêu cầu nộp phí",
    S.RESULT_READY: "Đã có kết quả",
    S.RETURNED: "Đã trả kết quả (nhận/giao)",
    S.REFUSED: "Không tiếp nhận",
    S.WITHDRAWN: "Công dân rút hồ sơ",
    S.STOPPED: "Dừng xử lý",
}


def actor() -> Actor:
    return Actor.staff(g.user.username, g.user.role)


def _audit(session: Session, dossier: Dossier, action: str, details: dict | None = None) -> None:
    """The audit line of something the signed-in staff member did to (or saw of) `dossier`."""
    record(
        session,
        actor=actor().name,
        action=action,
        now=now(),
        target_type="dossier",
        target_id=str(dossier.id),
        details=details,
    )


# ---- the queue -------------------------------------------------------------------------------


def _search(text: str) -> StaffSearch:
    """What the search box holds: a code, a phone number or a vessel number."""
    return parse_staff_search(text, runtime().settings)


def queue_filters(args, user, reader: QueryReader) -> QueueFilters:
    """The queue's filters from the page's address; what cannot be used is left out."""
    procedure = args.get("procedure")
    channel = args.get("channel")
    text = reader.text("q", "Tìm kiếm", max_length=SEARCH_MAX_CHARS)
    return QueueFilters(
        status=args.get("status", ""),
        procedure=procedure if procedure in runtime().settings.procedures else None,
        channel=Channel(channel) if channel in {c.value for c in Channel} else None,
        due=args.get("due", ""),
        assigned_to=user.username if args.get("mine") else None,
        search=_search(text) if text else None,
    )


@blueprint.get("")
@login_required
def queue():
    rt = runtime()
    calendar = rt.calendar()
    today = calendar.local(now()).date()
    soon = calendar.add_working_days(today, 2)
    filters, search_error = request.args, None
    if len(request.args.get("q", "")) > SEARCH_MAX_CHARS:
        search_error = too_long("Từ khoá tìm kiếm", SEARCH_MAX_CHARS)
        filters = {k: v for k, v in request.args.items() if k != "q"}
    reader = QueryReader(filters)
    wanted = queue_filters(filters, g.user, reader)
    after = reader.id_cursor() if wanted.drafts else reader.due_cursor()
    rows: list[Dossier] = []
    with rt.sessions() as session:
        if not search_error:
            rows = dossier_queries.queue_page(
                session, wanted, today=today, soon=soon, after=after, limit=PAGE + 1
            )
        vessels = dossier_queries.vessels_of(session, rows)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    next_after = ""
    if more and rows:
        last = rows[-1]
        due = last.due_date.isoformat() if last.due_date else "none"
        next_after = str(last.id) if wanted.drafts else f"{due}:{last.id}"
    args = {k: v for k, v in request.args.items() if k != "after"}
    status = reader.flash_problems()
    return render_template(
        "admin/dossier_queue.html",
        rows=rows,
        vessels=vessels,
        next_after=next_after,
        args=args,
        today=today,
        soon=soon,
        statuses=list(S),
        channels=list(Channel),
        first=after is None,
        search_error=search_error,
        search_max=SEARCH_MAX_CHARS,
    ), 400 if search_error else status


@blueprint.get("/incomplete")
@login_required
def incomplete():
    """The work list: received dossiers the call left incomplete, the nearest completeness
    deadline first, each with what is missing (staff call the citizen back, or request papers)."""
    rt = runtime()
    today = rt.calendar().local(now()).date()
    with rt.sessions() as session:
        rows = dossier_queries.incomplete_work_list(session, limit=PAGE * 4)
        vessels = dossier_queries.vessels_of(session, rows)
    items = [(d, missing_items(rt.settings, d, vessels.get(d.vessel_id))) for d in rows]
    return render_template("admin/incomplete.html", items=items, today=today)


# ---- one dossier -----------------------------------------------------------------------------


def _load(session: Session, dossier_id: int) -> Dossier:
    dossier = session.get(Dossier, dossier_id)
    if dossier is None:
        abort(404)
    return dossier


def _timeline(session: Session, dossier: Dossier) -> list[tuple[dt.datetime, str, object]]:
    events = dossier_queries.events_of(session, dossier.id)
    calls = ivr_queries.calls_of_dossier(session, dossier.id)
    notices = sms_queries.notices_of_dossier(session, dossier.id)
    logs = {}
    if calls:
        logs = ivr_queries.call_logs_by_uniqueid(session, [c.provider_call_id for c in calls])
    items = [(e.at, "event", e) for e in events]
    items += [(c.started_at, "call", (c, logs.get(c.provider_call_id))) for c in calls]
    items += [(n.created_at, "notice", n) for n in notices]
    calls_made = sms_queries.notice_calls_of_dossier(session, dossier.id)
    items += [(c.created_at, "notice_call", c) for c in calls_made]
    return sorted(items, key=lambda item: item[0], reverse=True)


@blueprint.get("/<int:dossier_id>")
@login_required
def show(dossier_id: int, errors: dict[str, str] | None = None, submitted=None):
    rt = runtime()
    with rt.sessions() as session:
        dossier = _load(session, dossier_id)
        vessel = session.get(Vessel, dossier.vessel_id) if dossier.vessel_id else None
        applicant = session.get(Applicant, dossier.applicant_id) if dossier.applicant_id else None
        recordings = ivr_queries.recordings_of_dossier(session, dossier.id)
        timeline = _timeline(session, dossier)
        supplement = dossier_queries.latest_supplement_request(session, dossier.id)
        lookup_block = block_in_force(session, dossier.id, now())
        call_orders = ivr_queries.latest_call_orders(session, dossier.id)
        inspection = latest_appointment(session, dossier.id)
        pending_apology = next(
            (p for p in proposals_of(session, dossier.id) if p.status is ProposalStatus.PENDING),
            None,
        )
        portal = (
            onestop_queries.dossier_sync(session, dossier.id)
            if rt.settings.onestop.enabled and dossier.code
            else None
        )
    procedure = rt.settings.procedures[dossier.procedure]
    fields = fields_for(rt.settings, dossier.procedure, dossier.variant)
    answers = form_values(dossier)
    if vessel is not None and vessel.length_m is not None:
        answers["vessel_length_m"] = f"{vessel.length_m:g}"  # lives on the vessel
    values = {f.key: display_value(f, answers.get(f.key)) for f in fields}
    if submitted:
        values.update(submitted)
    by_field: dict[str, list[Recording]] = {}
    for recording in recordings:
        by_field.setdefault(RECORDING_FIELD.get(recording.purpose, ""), []).append(recording)
    missing = missing_required(rt.settings, dossier.procedure, dossier.variant, answers)
    incomplete = missing_items(rt.settings, dossier, vessel) if dossier.completed_at is None else []
    status = 400 if errors else 200
    return render_template(
        "admin/dossier.html",
        d=dossier,
        vessel=vessel,
        applicant=applicant,
        fields=fields,
        values=values,
        errors=errors or {},
        recordings_by_field=by_field,
        procedure=procedure,
        route=processing_authority(procedure, vessel),
        timeline=timeline,
        next_statuses=sorted(TRANSITIONS[dossier.status] - {S.RECEIVED}),
        labels=ACTION_LABELS,
        missing=missing,
        incomplete=incomplete,
        due_reason=due_date_reason(rt.settings, rt.calendar(), dossier),
        length_band=vessel_band(vessel),
        supplement=supplement,
        ami=bool(rt.settings.ami_url),
        call_orders=call_orders,
        claimed_by_me=dossier.assigned_to == g.user.username,
        lookup_block=lookup_block,
        portal=portal,
        variant=procedure.variants.get(dossier.variant or "new"),
        inspection=inspection,
        inspection_labels={s.value: s.label for s in AppointmentStatus},
        pending_apology=pending_apology,
    ), status


def _editable(dossier: Dossier) -> None:
    """Operators work only dossiers they claimed; supervisors may step in."""
    if dossier.assigned_to != g.user.username and g.user.role is Role.OPERATOR:
        raise DomainError(
            f"Hồ sơ đang do {dossier.assigned_to} xử lý."
            if dossier.assigned_to
            else "Bấm «Nhận xử lý» trước khi thao tác trên hồ sơ."
        )


def _expect_version(dossier: Dossier) -> None:
    from intake.errors import ConcurrentEdit

    if request.form.get("version", type=int) != dossier.version:
        raise ConcurrentEdit(
            "Hồ sơ vừa được người khác cập nhật; trang đã được tải lại với "
            "nội dung mới. Vui lòng kiểm tra rồi thao tác lại."
        )


def _run(dossier_id: int, change, success: str | Callable[[], str]):
    """Apply `change(session, dossier)` in one transaction; domain errors become a message
    (`success` may be a function, asked once the transaction is committed)."""
    from intake.dossiers import flush_edits

    rt = runtime()
    try:
        with rt.sessions() as session, session.begin():
            dossier = _load(session, dossier_id)
            _editable(dossier)
            _expect_version(dossier)
            change(session, dossier)
            _audit(session, dossier, "dossier.changed", {"what": request.endpoint.split(".")[-1]})
            flush_edits(session)
        flash(success() if callable(success) else success, "success")
    except DomainError as exc:
        flash(str(exc), "error")
    return redirect(url_for("dossiers.show", dossier_id=dossier_id))


@blueprint.post("/<int:dossier_id>/claim")
@login_required
def claim(dossier_id: int):
    from intake.dossiers import flush_edits

    try:
        with runtime().sessions() as session, session.begin():
            dossier = _load(session, dossier_id)
            if dossier.assigned_to and dossier.assigned_to != g.user.username:
                if g.user.role is Role.OPERATOR:
                    flash(f"Hồ sơ đang do {dossier.assigned_to} xử lý.", "error")
                    return redirect(url_for("dossiers.show", dossier_id=dossier_id))
            dossier.assigned_to = g.user.username
            dossier.assigned_at = now()
            flush_edits(session)
        flash("Bạn đang xử lý hồ sơ này.", "success")
    except DomainError as exc:
        flash(str(exc), "error")
    return redirect(url_for("dossiers.show", dossier_id=dossier_id))


@blueprint.post("/<int:dossier_id>/form")
@login_required
def save_form(dossier_id: int):
    rt = runtime()
    with rt.sessions() as session:
        dossier = _load(session, dossier_id)
        raw = {k: v for k, v in request.form.items() if not k.startswith(("csrf", "version"))}
        # The citizen id is shown masked and its input left empty: empty means "unchanged", or
        # every save from a browser would erase it.
        if not raw.get("citizen_id", "").strip():
            raw.pop("citizen_id", None)
        clean, errors = validate(rt.settings, dossier.procedure, dossier.variant, raw)
    if errors:
        flash("Có trường chưa hợp lệ; xem thông báo cạnh từng trường.", "error")
        return show(dossier_id, errors=errors, submitted=raw)

    completed: list[dt.date] = []

    def change(session: Session, dossier: Dossier) -> None:
        apply_answers(session, dossier, clean, now=now())
        if start_clock_if_complete(
            session, dossier, settings=rt.settings, calendar=rt.calendar(), actor=actor(), now=now()
        ):
            completed.append(dossier.due_date)

    def saved() -> str:  # read after the commit: a refused save starts no clock
        if not completed:
            return "Đã lưu thông tin hồ sơ."
        return (
            f"Đã lưu thông tin hồ sơ. Hồ sơ đã đủ thông tin: hạn trả kết quả "
            f"{completed[0]:%d/%m/%Y} (tin nhắn báo hạn sẽ được gửi)."
        )

    return _run(dossier_id, change, saved)


@blueprint.post("/<int:dossier_id>/status")
@login_required
def move(dossier_id: int):
    rt = runtime()
    try:
        to = S(request.form.get("to", ""))
    except ValueError:
        abort(400)
    documents = [d for d in request.form.getlist("documents") if d.strip()]
    other = request.form.get("other_document", "").strip()
    if other:
        documents.append(other)
    override = bool(request.form.get("override"))

    def change(session: Session, dossier: Dossier) -> None:
        if any(len(d) > DOCUMENT_MAX_CHARS for d in documents):
            raise InvalidInput(too_long("Tên mỗi giấy tờ cần bổ sung", DOCUMENT_MAX_CHARS))
        move_dossier(
            session,
            dossier,
            to,
            settings=rt.settings,
            calendar=rt.calendar(),
            actor=actor(),
            now=now(),
            reason=request.form.get("reason", ""),
            documents=documents,
            override=override,
        )

    return _run(dossier_id, change, f"Đã chuyển hồ sơ sang «{to.label}».")


@blueprint.post("/<int:dossier_id>/new-date")
@login_required
def new_date(dossier_id: int):
    rt = runtime()

    def change(session: Session, dossier: Dossier) -> None:
        try:
            day = dt.datetime.strptime(request.form.get("date", ""), "%d/%m/%Y").date()
        except ValueError as exc:
            raise InvalidInput("Ngày hẹn mới viết theo dạng ngày/tháng/năm.") from exc
        set_new_date(
            session,
            dossier,
            day,
            reason=request.form.get("reason", ""),
            actor=actor(),
            now=now(),
            calendar=rt.calendar(),
            override=bool(request.form.get("override")),
        )

    return _run(dossier_id, change, "Đã hẹn lại ngày trả kết quả; tin nhắn xin lỗi sẽ được gửi.")


@blueprint.post("/<int:dossier_id>/inspection")
@login_required
def inspection(dossier_id: int):
    rt = runtime()

    def change(session: Session, dossier: Dossier) -> None:
        if not rt.settings.procedures[dossier.procedure].inspection:
            raise InvalidInput("Thủ tục này không kiểm tra tàu.")
        try:
            day = dt.date.fromisoformat(request.form.get("date", ""))
            hour = dt.time.fromisoformat(request.form.get("time", ""))
        except ValueError as exc:
            raise InvalidInput("Chọn ngày và giờ kiểm tra tàu.") from exc
        set_appointment(
            session,
            dossier,
            place=request.form.get("place", ""),
            at=dt.datetime.combine(day, hour, tzinfo=rt.settings.zone),
            actor=actor(),
            now=now(),
            calendar=rt.calendar(),
        )

    return _run(dossier_id, change, "Đã hẹn lịch kiểm tra tàu; tin nhắn sẽ được gửi cho công dân.")


@blueprint.post("/<int:dossier_id>/dispatch")
@login_required
def dispatch(dossier_id: int):
    def change(session: Session, dossier: Dossier) -> None:
        record_dispatch(
            session, dossier, tracking=request.form.get("tracking", ""), actor=actor(), now=now()
        )

    return _run(dossier_id, change, "Đã ghi nhận gửi kết quả qua bưu điện.")


@blueprint.post("/<int:dossier_id>/callback")
@login_required
def call_back(dossier_id: int):
    """Queue a call to the citizen; the AGI process places it through AMI (ivr/call_orders.py),
    so no web worker waits on Asterisk. The dossier page shows how it went."""
    rt = runtime()
    if not rt.settings.ami_url:
        abort(404)
    with rt.sessions() as session, session.begin():
        dossier = _load(session, dossier_id)
        phone = dossier.notify_phone or dossier.caller_phone
        if not phone:
            flash("Hồ sơ không có số điện thoại để gọi lại.", "error")
            return redirect(url_for("dossiers.show", dossier_id=dossier_id))
        order = order_call_back(
            session, dossier_id=dossier.id, phone=phone, requested_by=g.user.id, now=now()
        )
        _audit(session, dossier, "call_order.queued", {"call_order": order.id, "phone": phone})
    flash("Đã xếp lệnh gọi lại cho công dân; tải lại trang sau ít giây để xem kết quả.", "success")
    return redirect(url_for("dossiers.show", dossier_id=dossier_id))


@blueprint.post("/<int:dossier_id>/status-lookup/unblock")
@role_required(Role.SUPERVISOR)
def unblock_status_lookup(dossier_id: int):
    """Let other numbers try the citizen-id check again before the block ends.

    Supervisors only: the block stands between a caller who can walk the sequential codes and
    the citizen id's last digits, and "please unblock my dossier" is exactly what such a caller
    would ask an operator. The owner is never locked out (their own phone, the SMS look-up and
    the staff themselves still answer), so waiting for a supervisor costs little.
    """
    with runtime().sessions() as session, session.begin():
        _load(session, dossier_id)
        lifted = lift_block(session, dossier_id, actor=actor().name, now=now())
    if lifted:
        flash("Đã mở khoá tra cứu qua điện thoại cho hồ sơ này.", "success")
    else:
        flash("Tra cứu qua điện thoại của hồ sơ này không bị khoá.", "info")
    return redirect(url_for("dossiers.show", dossier_id=dossier_id))


@blueprint.post("/<int:dossier_id>/onestop/sync-again")
@role_required(Role.SUPERVISOR)
def onestop_sync_again(dossier_id: int):
    """Queue the dossier for the national portal once more: after the portal refused a record
    (once the content is corrected) or retries ran out. Supervisors only, audited."""
    if not runtime().settings.onestop.enabled:
        abort(404)
    with runtime().sessions() as session, session.begin():
        dossier = _load(session, dossier_id)
        queued = sync_again(session, dossier, now())
        _audit(session, dossier, "onestop.sync_again", {"queued": queued})
    flash("Đã xếp hồ sơ vào hàng đồng bộ lại với Cổng Dịch vụ công quốc gia.", "success")
    return redirect(url_for("dossiers.show", dossier_id=dossier_id))


@blueprint.get("/<int:dossier_id>/citizen-id")
@login_required
def citizen_id(dossier_id: int):
    """The full citizen id, shown on request and logged (personal data)."""
    rt = runtime()
    with rt.sessions() as session, session.begin():
        dossier = _load(session, dossier_id)
        _audit(session, dossier, "citizen_id.viewed")
        value = (dossier.form or {}).get("citizen_id", "")
    return render_template("admin/citizen_id.html", d=dossier, value=value)


@blueprint.get("/<int:dossier_id>/slip/<kind>")
@login_required
def slip(dossier_id: int, kind: str):
    """The printable legal documents: receipt, supplement request, apology with new date."""
    if kind not in ("receipt", "supplement", "apology"):
        abort(404)
    rt = runtime()
    with rt.sessions() as session:
        dossier = _load(session, dossier_id)
        vessel = session.get(Vessel, dossier.vessel_id) if dossier.vessel_id else None
        supplement = dossier_queries.latest_supplement_request(session, dossier.id)
    if kind == "supplement" and supplement is None:
        abort(404)
    if kind == "apology" and dossier.new_due_date is None:
        abort(404)
    procedure = rt.settings.procedures[dossier.procedure]
    return render_template(
        f"admin/slip_{kind}.html",
        d=dossier,
        vessel=vessel,
        procedure=procedure,
        route=processing_authority(procedure, vessel),
        supplement=supplement,
        officer=g.user,
        variant=procedure.variants.get(dossier.variant or "new"),
        today=rt.calendar().local(now()).date(),
    )
