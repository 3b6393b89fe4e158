"""How the roots start a process: settings from the file and the environment, checked against
the packages that use them (templates must fit their SMS budget), and the shared Runtime.

It lives in the roots because the checks reach up into `sms`; the ground floor's
`plumbing.settings` only parses and validates."""

from __future__ import annotations

from intake.runtime import Runtime
from plumbing.settings import Settings, load_settings


def load_checked_settings() -> Settings:
    """The settings every root starts from; also switches the portal sync's event follower on
    or off for this process (`[onestop] enabled`), so whichever process records an event
    (web, AGI, scheduler, CLI) queues its portal records."""
    from onestop.sync import install
    from sms.templates import check_templates

    settings = load_settings()
    check_templates(settings)
    install(settings)
    return settings


def load_runtime() -> Runtime:
    return Runtime.from_settings(load_checked_settings())
