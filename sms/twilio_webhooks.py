"""POST /twilio/sms (inbound, where Twilio can deliver it) and /twilio/sms/status (receipts).

Both verify the signature, persist, and answer at once; the reply SMS goes through the outbox.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app
from twilio.twiml.messaging_response import MessagingResponse

from intake.runtime import Runtime
from plumbing.db import retry_if_disconnected
from plumbing.twilio_signature import require_twilio_signature
from plumbing.webhook_form import (
    DB_INT_MAX,
    Number,
    Text,
    checked_webhook,
    column_length,
    webhook_values,
)
from sms.inbound import InboundSms, handle_inbound
from sms.models import InboundMessage, Notice
from sms.receipts import apply_receipt

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio_sms", __name__, url_prefix="/twilio/sms")

# What Twilio sends that we read, checked before any database work (plumbing.webhook_form).
# Lengths never exceed the column the value is stored in. Message ids are letters and digits
# (Twilio's are `SM` + 32 hex; other providers' adapters differ, so the shape stays loose).
_inbound = InboundMessage.__table__.c
INBOUND_FIELDS = (
    Text("MessageSid", column_length(_inbound.provider_id), pattern="[A-Za-z0-9]+", required=True),
    Text("From", column_length(_inbound.sender), required=True),
    Text("To", column_length(_inbound.recipient)),
    # Twilio delivers at most 1600 characters; line breaks are fine, other controls are not.
    Text("Body", 1600, multiline=True),
)
_notice = Notice.__table__.c
_MESSAGE_ID = Text("MessageSid", column_length(_notice.provider_id), pattern="[A-Za-z0-9]+")
STATUS_FIELDS = (
    _MESSAGE_ID,
    Text("SmsSid", column_length(_notice.provider_id), pattern="[A-Za-z0-9]+"),
    Text("MessageStatus", column_length(_notice.provider_status), pattern="[A-Za-z_-]+"),
    Text("SmsStatus", column_length(_notice.provider_status), pattern="[A-Za-z_-]+"),
    Text("ErrorCode", column_length(_notice.error_code), pattern="[0-9]+"),
    Number("notice", 1, DB_INT_MAX, in_query=True),
)


def _runtime() -> Runtime:
    return current_app.extensions["tongdai"]


@blueprint.post("")
@require_twilio_signature
@checked_webhook(*INBOUND_FIELDS)
@retry_if_disconnected  # one transaction: safe to run again if it never committed
def inbound() -> Response:
    form = webhook_values()
    runtime = _runtime()
    message = InboundSms(
        provider="twilio",
        provider_id=form["MessageSid"],
        sender=form["From"],
        recipient=form["To"] or "",
        body=form["Body"] or "",
    )
    with runtime.sessions() as session, session.begin():
        handle_inbound(session, message, settings=runtime.settings,
                       calendar=runtime.calendar(), now=runtime.clock.now())  # fmt: skip
    # The answer leaves through the outbox (it may need another provider); TwiML stays empty.
    return Response(str(MessagingResponse()), mimetype="text/xml")


@blueprint.post("/status")
@require_twilio_signature
@checked_webhook(*STATUS_FIELDS)
@retry_if_disconnected  # one transaction: safe to run again if it never committed
def status() -> Response:
    form = webhook_values()
    sid = form["MessageSid"] or form["SmsSid"]
    state = form["MessageStatus"] or form["SmsStatus"]
    if not sid or not state:
        return Response("missing MessageSid or MessageStatus", status=400)
    notice_id = form["notice"]
    runtime = _runtime()
    with runtime.sessions() as session, session.begin():
        apply_receipt(session, provider_id=sid, provider_status=state, now=runtime.clock.now(),
                      notice_id=notice_id, error_code=form["ErrorCode"])  # fmt: skip
    return Response(status=204)
