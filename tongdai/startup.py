"""Settings as every process loads them: the file, the environment, and the checks that need
the other packages (templates must fit their SMS budget) before anything starts."""

from __future__ import annotations

from tongdai.settings import Settings, load_settings


def load_checked_settings() -> Settings:
    from sms.templates import check_templates

    settings = load_settings()
    check_templates(settings)
    return settings
