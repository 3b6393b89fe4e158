"""The gateway named by TONGDAI_SMS_GATEWAY (chosen by configuration, never by `if testing`)."""

from __future__ import annotations

from plumbing.settings import Settings, SettingsError
from sms.gateways.base import SmsGateway


def gateway_from_settings(settings: Settings) -> SmsGateway:
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
    raise SettingsError(f"unknown SMS gateway {settings.sms_gateway!r}")
