"""POST /twilio/sms (inbound, where Twilio can deliver it) and /twilio/sms/status (receipts).

Both verify the signature, persist, and answer at once; the reply SMS goes through the outbox.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from sms.inbound import InboundSms, handle_inbound
from sms.receipts import apply_receipt
from tongdai.db import retry_if_disconnected
from tongdai.runtime import Runtime
from tongdai.twilio_signature import require_twilio_signature

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio_sms", __name__, url_prefix="/twilio/sms")


def _runtime() -> Runtime:
    return current_app.extensions["tongdai"]


@blueprint.post("")
@require_twilio_signature
@retry_if_disconnected  # one transaction: safe to run again if it never committed
def inbound() -> Response:
    form = request.form
    if not form.get("MessageSid") or not form.get("From"):
        return Response("missing MessageSid or From", status=400)
    runtime = _runtime()
    message = InboundSms(
        provider="twilio",
        provider_id=form["MessageSid"],
        sender=form["From"],
        recipient=form.get("To", ""),
        body=form.get("Body", ""),
    )
    with runtime.sessions() as session, session.begin():
        handle_inbound(session, message, settings=runtime.settings,
                       calendar=runtime.calendar(), now=runtime.clock.now())  # fmt: skip
    # The answer leaves through the outbox (it may need another provider); TwiML stays empty.
    return Response(str(MessagingResponse()), mimetype="text/xml")


@blueprint.post("/status")
@require_twilio_signature
@retry_if_disconnected  # one transaction: safe to run again if it never committed
def status() -> Response:
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid")
    state = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not state:
        return Response("missing MessageSid or MessageStatus", status=400)
    notice_id = request.args.get("notice", type=int)
    runtime = _runtime()
    with runtime.sessions() as session, session.begin():
        apply_receipt(session, provider_id=sid, provider_status=state, now=runtime.clock.now(),
                      notice_id=notice_id, error_code=form.get("ErrorCode"))  # fmt: skip
    return Response(status=204)
