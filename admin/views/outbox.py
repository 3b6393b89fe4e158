"""The SMS outbox: what was sent, what is stuck and why, "retry now", and manual messages.

A manual message is sent only after its preview was shown: the first POST answers with a
confirm page carrying a signature of the exact final text (and a one-time key); the second POST
recomputes the text, and queues it only if the signature still matches. Without JavaScript
this is the whole flow; with it, the form also previews live as staff type.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from admin.auth import login_required, now, runtime
from admin.csrf import csrf_token
from admin.query import QueryReader
from admin.text_limits import MANUAL_SMS_MAX_CHARS, too_long
from intake import dossier_queries
from intake.audit import record
from intake.errors import InvalidInput
from intake.phone import PhoneNumber, parse_phone
from reports.labels import notice_kind, notice_status
from sms import queries as sms_queries
from sms.encoding import Measure, prepare
from sms.models import Notice, NoticeStatus
from sms.outbox import enqueue_written
from sms.queries import NoticeFilters

blueprint = Blueprint("outbox", __name__, url_prefix="/admin/outbox")
PAGE = 50
MANUAL_KIND = "manual"
MAX_MANUAL_SEGMENTS = 5
RECENT_CALLS = 20  # notice calls listed above the SMS (the first page only)
RETRYABLE = (NoticeStatus.FAILED, NoticeStatus.UNKNOWN, NoticeStatus.PENDING)

STATUS_LABELS = {status: notice_status(status) for status in NoticeStatus}
FILTER_LABELS = {
    **{status.value: label for status, label in STATUS_LABELS.items()},
    "held": "Đang giữ (chưa đến giờ gửi)",
    "failing": "Đang lỗi, chờ thử lại",
}

# ---- the list --------------------------------------------------------------------------------


def _kinds() -> dict[str, str]:
    kinds = [*runtime().settings.sms.templates, MANUAL_KIND]
    return {kind: notice_kind(kind) for kind in kinds}


def _filtered(reader: QueryReader, errors: dict[str, str]) -> NoticeFilters:
    args = reader.args
    status = args.get("status", "")
    kind = reader.text("kind", "Loại tin", max_length=32)
    phone = args.get("phone", "").strip()
    e164 = ""
    if phone:
        try:
            e164 = parse_phone(phone).e164
        except InvalidInput:
            errors["phone"] = "Số điện thoại không hợp lệ (ví dụ 0912 345 678)."
    return NoticeFilters(status=status, kind=kind, phone=e164)


def _page(form: dict[str, str] | None = None, form_errors: dict[str, str] | None = None):
    rt = runtime()
    current = now()
    errors: dict[str, str] = {}
    reader = QueryReader(request.args)
    filters = _filtered(reader, errors)
    after = reader.id_cursor()
    first_page = after is None
    with rt.sessions() as session:
        rows = sms_queries.notices_page(session, filters, current, after=after, limit=PAGE + 1)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        calls = sms_queries.notice_calls_by_notice(session, {n.id for n in rows})
        recent_calls = sms_queries.recent_notice_calls(session, RECENT_CALLS) if first_page else []
        dossier_ids = {n.dossier_id for n in rows} | {c.dossier_id for c in recent_calls}
        dossiers = dossier_queries.dossiers_by_id(session, {i for i in dossier_ids if i})
    form = form or {"phone": "", "text": "", "strip": ""}
    preview = _measure(form["text"], bool(form["strip"])) if _measurable(form["text"]) else None
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    status = max(reader.flash_problems(), 400 if errors or form_errors else 200)
    return render_template(
        "admin/outbox.html",
        rows=rows,
        calls=calls,
        recent_calls=recent_calls,
        dossiers=dossiers,
        now=current,
        errors=errors,
        form=form,
        form_errors=form_errors or {},
        preview=preview,
        max_segments=MAX_MANUAL_SEGMENTS,
        max_text=MANUAL_SMS_MAX_CHARS,
        args=args,
        next_after=str(rows[-1].id) if more and rows else "",
        first=after is None,
        statuses=STATUS_LABELS,
        filters=FILTER_LABELS,
        kinds=_kinds(),
        retryable=RETRYABLE,
        confirm=None,
    ), status


@blueprint.get("")
@login_required
def index():
    return _page()


# ---- retry now -------------------------------------------------------------------------------


@blueprint.post("/<int:notice_id>/retry")
@login_required
def retry(notice_id: int):
    current = now()
    with runtime().sessions() as session, session.begin():
        # Locked: the dispatcher claims with SKIP LOCKED, so it cannot take the row meanwhile.
        notice = session.get(Notice, notice_id, with_for_update=True)
        if notice is None:
            flash("Không tìm thấy tin nhắn.", "error")
            return redirect(url_for("outbox.index"))
        if notice.status not in RETRYABLE:
            label = STATUS_LABELS[notice.status]
            flash(f"Tin nhắn #{notice.id} đang ở trạng thái «{label}»: không gửi lại.", "error")
            return redirect(url_for("outbox.index"))
        previous = notice.status
        notice.status = NoticeStatus.PENDING
        notice.next_attempt_at = current
        notice.settled_at = None
        notice.updated_at = current
        record(
            session,
            actor=f"staff:{g.user.username}",
            action="sms.retried",
            now=current,
            target_type="notice",
            target_id=str(notice.id),
            details={"from": previous.value, "attempts": notice.attempts},
        )
    flash(f"Tin nhắn #{notice_id} sẽ được gửi lại ngay.", "success")
    return redirect(url_for("outbox.index", **{k: v for k, v in request.args.items() if v}))


# ---- manual messages -------------------------------------------------------------------------


@dataclass(frozen=True)
class ManualSms:
    number: PhoneNumber
    measure: Measure


def _measure(text: str, strip: bool) -> Measure:
    return prepare(text, "strip" if strip else "unicode")


def _measurable(text: str) -> bool:
    return len(text) <= MANUAL_SMS_MAX_CHARS and bool(text.strip())


TEXT_TOO_LONG = too_long("Nội dung tin nhắn", MANUAL_SMS_MAX_CHARS)


def _check(phone: str, text: str, strip: bool) -> tuple[ManualSms | None, dict[str, str]]:
    errors: dict[str, str] = {}
    number = None
    try:
        number = parse_phone(phone)
    except InvalidInput:
        errors["phone"] = "Số điện thoại không hợp lệ (di động 10 số, ví dụ 0912 345 678)."
    else:
        if not number.can_receive_sms:
            errors["phone"] = "Đây là số máy bàn, không nhận được tin nhắn. Hãy gọi điện."
    if len(text) > MANUAL_SMS_MAX_CHARS:
        errors["text"] = TEXT_TOO_LONG
        return None, errors
    measure = _measure(text, strip)
    if not measure.text:
        errors["text"] = "Nhập nội dung tin nhắn."
    elif measure.segments > MAX_MANUAL_SEGMENTS:
        errors["text"] = (
            f"Tin nhắn dài {measure.segments} phần; tối đa {MAX_MANUAL_SEGMENTS} phần. "
            "Hãy rút gọn hoặc chọn bỏ dấu."
        )
    if errors or number is None:
        return None, errors
    return ManualSms(number, measure), errors


def _signature(sms: ManualSms, nonce: str) -> str:
    """Binds the confirm page to this session, this number and this exact final text."""
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    message = "\x00".join([csrf_token(), nonce, sms.number.e164, sms.measure.text])
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def queue_manual(
    session: Session, sms: ManualSms, *, now: dt.datetime, dedupe_key: str | None = None
) -> Notice | None:
    """Queue a staff-written SMS through the outbox's way in: pending, to go at once.

    Returns None when the same confirm page was already sent (a double click, a reload).
    """
    return enqueue_written(session, kind=MANUAL_KIND, phone=sms.number.e164,
                           measure=sms.measure, now=now, dedupe_key=dedupe_key)  # fmt: skip


@blueprint.post("/preview")
@login_required
def preview():
    """The live preview's HTML fragment (admin.js posts `text` and `strip`)."""
    text = request.form.get("text", "")
    if len(text) > MANUAL_SMS_MAX_CHARS:
        return render_template("admin/_outbox_preview.html", too_long=TEXT_TOO_LONG), 400
    measure = _measure(text, bool(request.form.get("strip"))) if text.strip() else None
    return render_template(
        "admin/_outbox_preview.html", preview=measure, max_segments=MAX_MANUAL_SEGMENTS
    )


def _confirm_page(sms: ManualSms, form: dict[str, str], notice: str = ""):
    nonce = secrets.token_hex(16)
    return render_template(
        "admin/outbox.html",
        confirm={
            "sms": sms,
            "form": form,
            "nonce": nonce,
            "signature": _signature(sms, nonce),
            "notice": notice,
        },
        preview=sms.measure,
        max_segments=MAX_MANUAL_SEGMENTS,
    )


@blueprint.post("/manual")
@login_required
def manual():
    form = {
        "phone": request.form.get("phone", "").strip(),
        "text": request.form.get("text", ""),
        "strip": "1" if request.form.get("strip") else "",
    }
    step = request.form.get("step", "preview")
    if step == "edit":
        return _page(form=form)
    sms, errors = _check(form["phone"], form["text"], bool(form["strip"]))
    if sms is None:
        return _page(form=form, form_errors=errors)
    if step != "send":
        return _confirm_page(sms, form)
    nonce = request.form.get("nonce", "")
    given = request.form.get("signature", "")
    if not nonce or not hmac.compare_digest(_signature(sms, nonce), given):
        return _confirm_page(
            sms, form, "Nội dung khác với bản đã xem trước. Hãy xem lại rồi bấm «Gửi»."
        ), 400
    current = now()
    with runtime().sessions() as session, session.begin():
        notice = queue_manual(session, sms, now=current, dedupe_key=f"manual:{nonce}")
        if notice is not None:
            record(
                session,
                actor=f"staff:{g.user.username}",
                action="sms.manual_queued",
                now=current,
                target_type="notice",
                target_id=str(notice.id),
                details={
                    "phone": sms.number.e164,
                    "encoding": str(sms.measure.encoding),
                    "segments": sms.measure.segments,
                },
            )
    if notice is None:
        flash("Tin nhắn này đã được đưa vào hàng đợi trước đó.", "info")
    else:
        flash(f"Đã đưa tin nhắn #{notice.id} vào hàng đợi; tin được gửi ngay.", "success")
    return redirect(url_for("outbox.index", kind=MANUAL_KIND))
