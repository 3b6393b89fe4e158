"""The gateway named by TONGDAI_SMS_GATEWAY (chosen by configuration, never by `if testing`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plumbing.leader import Slots
from plumbing.settings import Settings, SettingsError
from sms.gateways.base import SmsGateway

if TYPE_CHECKING:
    from intake.runtime import Runtime

# The advisory locks of the SMPP bind slots: SMPP_BIND_LOCKS + 0 .. + max_binds - 1 (the
# scheduler's leader is 8664324, the AGI call log 8664325).
SMPP_BIND_LOCKS = 86643270


def gateway_from_settings(settings: Settings, runtime: Runtime | None = None) -> SmsGateway:
    """The configured gateway. SMPP also receives (receipts, citizens' messages) and stores what
    it receives through `runtime`; without one it only sends."""
    if settings.sms_gateway == "console":
        from sms.gateways.console import ConsoleGateway

        return ConsoleGateway(settings.data_dir / "sms.log")
    if settings.sms_gateway == "twilio":
        from sms.gateways.twilio import TwilioGateway

        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise SettingsError(
                "TONGDAI_SMS_GATEWAY=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
            )
        return TwilioGateway(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            sender=settings.sms.sender,
            status_callback_base=settings.public_url,
        )
    if settings.sms_gateway == "smpp":
        from sms.gateways.smpp import SmppGateway
        from sms.smpp_deliveries import SmppDeliveries

        if not settings.smpp_password:
            raise SettingsError("TONGDAI_SMS_GATEWAY=smpp needs TONGDAI_SMPP_PASSWORD")
        if runtime is None:
            return SmppGateway(settings.sms.smpp, settings.smpp_password)
        # Only the processes holding one of the account's bind slots bind (docs/smpp.md).
        slots = Slots(runtime.engine, SMPP_BIND_LOCKS, settings.sms.smpp.bind_holders, "smpp")
        return SmppGateway(settings.sms.smpp, settings.smpp_password,
                           on_delivery=SmppDeliveries(runtime), slots=slots)  # fmt: skip
    raise SettingsError(f"unknown SMS gateway {settings.sms_gateway!r}")
