"""Rendering notice templates from config.toml, and the start-up check that each one fits.

Staff-typed values (a reason, a list of documents) are cut to the configured maximum, so the
worst case checked at start-up is the worst case that can really be sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from plumbing.settings import SMS_PLACEHOLDERS, Settings, SettingsError
from sms.encoding import Measure, prepare, strip_diacritics

ELLIPSIS = "..."


@dataclass(frozen=True)
class RenderedSms:
    kind: str
    measure: Measure

    @property
    def text(self) -> str:
        return self.measure.text


def format_date(day: dt.date) -> str:
    return f"{day:%d/%m/%Y}"


def short_code(code: str) -> str:
    """The part a citizen can type back: `261201-0001`."""
    return "-".join(code.rsplit("-", 2)[1:])


def _cut(value: str, limit: int) -> str:
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    return value[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def render(settings: Settings, kind: str, values: Mapping[str, object]) -> RenderedSms:
    """Fill `kind`'s template. Missing placeholders raise KeyError: a programming error."""
    template = settings.sms.templates[kind]
    limits = {
        "reason": settings.sms.max_reason_chars,
        "documents": settings.sms.max_documents_chars,
        "place": settings.sms.max_reason_chars,
    }
    filled: dict[str, str] = {
        "centre": settings.centre.sms_name,
        "address": settings.centre.sms_address,
        "hours": settings.centre.sms_hours,
        "hotline": settings.centre.hotline,
        "number": settings.sms.reply_number,
    }
    for key, value in values.items():
        text = format_date(value) if isinstance(value, dt.date) else str(value)
        if key in limits:
            # Cut after stripping so the limit counts what is sent, not what was typed.
            text = strip_diacritics(text) if template.policy == "strip" else text
            text = _cut(text, limits[key])
        filled[key] = text
    if "code" in filled and "short_code" not in filled:
        filled["short_code"] = short_code(filled["code"])
    return RenderedSms(kind, prepare(template.text.format_map(filled), template.policy))


def worst_case_values(settings: Settings) -> dict[str, str]:
    """The longest plausible value of each placeholder under these settings."""
    # Vietnamese letters that stay long under "unicode" and strip to one letter each.
    wide = "ệ"
    longest_status = "Yêu cầu nghĩa vụ tài chính"
    return {
        "code": f"{settings.centre.agency_id}-261231-9999",
        "procedure_short": max((p.short_name for p in settings.procedures.values()), key=len),
        "due": "31/12/2026",
        "new_due": "31/12/2026",
        "reason": wide * settings.sms.max_reason_chars,
        "documents": wide * settings.sms.max_documents_chars,
        "tracking": "EE123456789VN",
        "status": longest_status,
        "papers": max(
            (v.papers for p in settings.procedures.values() for v in p.variants.values()), key=len
        ),
        "place": wide * settings.sms.max_reason_chars,
        "time": "16:30 ngày 31/12/2026",
    }


def check_templates(settings: Settings) -> None:
    """Refuse to start when a template can break its segment limit; say by how much."""
    given = {"centre", "address", "hours", "hotline", "number", "short_code"}
    assert set(worst_case_values(settings)) | given == SMS_PLACEHOLDERS, (
        "worst_case_values must cover every placeholder"
    )
    values = worst_case_values(settings)
    for kind, template in settings.sms.templates.items():
        measure = render(settings, kind, values).measure
        if measure.segments > template.max_segments:
            allowed = _capacity(measure, template.max_segments)
            over = measure.units - allowed
            raise SettingsError(
                f"{settings.config_path}: sms.templates.{kind}: with the longest values it needs "
                f"{measure.segments} SMS parts ({measure.encoding}), more than max_segments = "
                f"{template.max_segments}: {over} character(s) too long"
            )


def _capacity(measure: Measure, segments: int) -> int:
    single, part = (160, 153) if measure.encoding == "GSM-7" else (70, 67)
    return single if segments == 1 else part * segments
