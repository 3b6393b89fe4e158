"""Settings: `config.toml` (what a province tunes) plus environment variables (secrets, URLs).

Loaded once into a frozen object. Every mistake in the file is reported as one line naming the
file and the key, at start-up, so it can never surface as a traceback deep inside a request.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import secrets
import string
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from plumbing.client_address import Network, parse_networks

DEFAULT_CONFIG = Path("config.toml")


class SettingsError(Exception):
    """A setting is missing or wrong. The message is one line meant for an operator."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _clock_time(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("must be a local time written HH:MM, e.g. 15:00")
    return value


ClockTime = Annotated[str, AfterValidator(_clock_time)]


def parse_clock(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


class Centre(_Frozen):
    name: str = Field(min_length=1)
    sms_name: str = Field(min_length=1)
    # Where and when results are collected and papers handed in, as an SMS says them
    # ({address}, {hours}).
    sms_address: str = Field(min_length=1, max_length=80)
    sms_hours: str = Field(min_length=1, max_length=60)
    hotline: str = Field(pattern=r"^\d{8,11}$")
    # Not read from the file: set from `[onestop] madonvi` (Settings below), the prefix of codes.
    agency_id: str = Field(pattern=r"^[0-9A-Z.]+$", max_length=30)
    home_province: str
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class DayNote(_Frozen):
    date: dt.date
    note: str = ""


class CalendarSettings(_Frozen):
    cutoff: ClockTime = "15:00"
    extra_holidays: tuple[DayNote, ...] = ()
    worked_days: tuple[DayNote, ...] = ()
    removed_holidays: tuple[DayNote, ...] = ()

    @property
    def cutoff_time(self) -> dt.time:
        return parse_clock(self.cutoff)


# The placeholders a template may name; the SMS package renders them (sms/templates.py).
SMS_PLACEHOLDERS = frozenset(
    {
        "centre", "code", "short_code", "procedure_short", "due", "new_due", "hotline",
        "reason", "documents", "tracking", "number", "status", "address", "hours", "papers",
        "place", "time",
    }
)  # fmt: skip
SMS_TEMPLATE_KINDS = (
    "receipt", "result_collect", "result_post", "supplement", "apology", "reminder", "refused",
    "withdrawn", "stopped", "survey", "status_reply", "not_found", "help", "opted_out",
    "opted_in", "rating_thanks", "supervisor_alert", "result_ready", "result_post_untracked",
    "supplement_received", "inspection", "inspection_confirmed", "inspection_change",
    "receipt_incomplete", "complete",
)  # fmt: skip
_LINK = re.compile(r"https?:|www\.|\.(vn|com|net|org|gov)\b/?|bit\.ly", re.IGNORECASE)


class SmsTemplate(_Frozen):
    text: str = Field(min_length=1)
    policy: Literal["strip", "unicode"] = "strip"
    max_segments: int = Field(default=1, ge=1, le=4)

    @field_validator("text")
    @classmethod
    def _known_placeholders_and_no_links(cls, value: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"badly formed placeholder: {exc}") from exc
        unknown = sorted(names - SMS_PLACEHOLDERS)
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}}")
        if _LINK.search(value):
            # Citizens are taught that an SMS with a link is a scam: the centre never sends one.
            raise ValueError("a citizen SMS must not contain a link")
        return value


class SmppSettings(_Frozen):
    """The SMPP 3.4 account (`TONGDAI_SMS_GATEWAY=smpp`); the password is TONGDAI_SMPP_PASSWORD."""

    host: str = "127.0.0.1"
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = Field(default="tongdai", min_length=1, max_length=15)
    system_type: str = Field(default="", max_length=12)
    # The brandname (alphanumeric: TON 5, NPI 0) the centre's notices leave from.
    source_addr: str = Field(default="TTHCC QNGAI", min_length=1, max_length=20)
    source_ton: int = Field(default=5, ge=0, le=6)
    source_npi: int = Field(default=0, ge=0, le=18)
    # The two-way short code: replies to a citizen's own message leave from it (TON 3, NPI 0).
    reply_source_addr: str = Field(default="8079", pattern=r"^\d{3,15}$")
    reply_source_ton: int = Field(default=3, ge=0, le=6)
    reply_source_npi: int = Field(default=0, ge=0, le=18)
    # `transceiver`: one bind both ways; `pair`: a transmitter and a receiver (two binds).
    bind: Literal["transceiver", "pair"] = "transceiver"
    # Outstanding submit_sm without a response, per bind.
    window: int = Field(default=1, ge=1, le=100)
    # Messages per second the account allows, shared by every dispatcher process.
    rate_per_second: float = Field(default=10.0, ge=0)
    # data_coding for GSM-7 text: 0 is "the SMSC's default alphabet", which most carriers take as
    # GSM 03.38; some want 1 (IA5/ASCII) or 3 (Latin-1) for the same stripped text.
    gsm7_data_coding: Literal[0, 1, 3] = 0
    # Long messages: `udh` (a user data header in each part) or `sar` (the SAR TLVs).
    concatenation: Literal["udh", "sar"] = "udh"
    # How long the SMSC keeps trying a handset that is out of reach (boats stay out for days).
    validity_hours: int = Field(default=72, ge=1, le=24 * 30)
    # registered_delivery on a notice's last part: 1 asks for the final receipt, success or
    # failure (SMPP 3.4 5.2.17). Jasmin reads 1 as "success only" and 2 as "every receipt"
    # (README "SMPP"): behind a Jasmin, 2.
    registered_delivery: Literal[1, 2] = 1
    # query_sm for a known id whose receipt never came. Off: Jasmin refuses it and drops the bind.
    query_sm: bool = False
    # A notice `sent` this long without a receipt is asked about (and again this long after each
    # answer that settles nothing), at most `query_sm_per_tick` notices per minute and process.
    query_sm_after_minutes: int = Field(default=60, ge=1, le=24 * 60)
    query_sm_per_tick: int = Field(default=5, ge=1, le=100)
    # Binds the account allows (the SMSC refuses more). Each process holding binds takes one
    # (transceiver) or two (pair); the others stand by (docs/smpp.md, "Who holds the binds").
    max_binds: int = Field(default=1, ge=1, le=64)
    # The parts of a citizen's long SMS are kept this long for the rest; then what came is
    # handled as it is.
    concat_expiry_minutes: int = Field(default=15, ge=1, le=24 * 60)
    enquire_link_seconds: float = Field(default=30.0, gt=0, le=600)
    response_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    reconnect_max_seconds: float = Field(default=60.0, gt=0, le=3600)

    @property
    def binds_per_process(self) -> int:
        return 1 if self.bind == "transceiver" else 2

    @property
    def bind_holders(self) -> int:
        """How many processes may hold binds at once under `max_binds`."""
        return self.max_binds // self.binds_per_process

    @model_validator(mode="after")
    def _room_for_one_process(self) -> SmppSettings:
        if self.bind_holders < 1:
            raise ValueError(f"bind = {self.bind!r} needs max_binds >= {self.binds_per_process}")
        return self


class SmsSettings(_Frozen):
    sender: str = Field(min_length=1, max_length=11, pattern=r"^[A-Za-z0-9 .\-]+$")
    reply_number: str = Field(pattern=r"^\d{3,15}$")
    quiet_start: ClockTime = "21:00"
    quiet_end: ClockTime = "07:00"
    max_reason_chars: int = Field(default=60, ge=10, le=300)
    max_documents_chars: int = Field(default=90, ge=10, le=300)
    templates: dict[str, SmsTemplate]
    smpp: SmppSettings = SmppSettings()

    @field_validator("templates")
    @classmethod
    def _every_kind_present(cls, value: dict[str, SmsTemplate]) -> dict[str, SmsTemplate]:
        missing = [kind for kind in SMS_TEMPLATE_KINDS if kind not in value]
        if missing:
            raise ValueError(f"template {missing[0]!r} is missing")
        extra = sorted(set(value) - set(SMS_TEMPLATE_KINDS))
        if extra:
            raise ValueError(f"unknown template {extra[0]!r}")
        return value


class SchedulerSettings(_Frozen):
    dispatch_seconds: float = Field(default=3.0, gt=0, le=300)
    dispatch_batch: int = Field(default=100, ge=1, le=10000)
    rule_seconds: float = Field(default=30.0, gt=0, le=3600)
    apology_extra_days: int = Field(default=3, ge=1, le=60)
    # A dossier still in work this many working days before its due date is at risk: a proposed
    # apology goes to the supervisors' queue (0: on the due day itself).
    at_risk_working_days: int = Field(default=1, ge=0, le=10)
    default_apology_reason: str = Field(min_length=3, max_length=200)
    reminder_after_days: int = Field(default=5, ge=1, le=60)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_delay_seconds: float = Field(default=3600.0, gt=0)
    retry_horizon_hours: float = Field(default=72.0, gt=0)
    unknown_after_seconds: float = Field(default=120.0, gt=0)
    rate_per_second: float = Field(default=10.0, ge=0)
    supervisor_phones: tuple[str, ...] = ()
    # Supervisors who get alerts by email (with TONGDAI_SMTP_URL), and the sender address.
    supervisor_emails: tuple[str, ...] = ()
    alert_sender: str = "tongdai@localhost"
    # Alerts (scheduler/alerts.py), each at most once per problem per day: this many notices
    # failed, undelivered or unknown in the last 24 hours; this many SMS due and not yet sent.
    alert_failed_notices: int = Field(default=5, ge=1)
    alert_sms_backlog: int = Field(default=500, ge=1)


class RetentionSettings(_Frozen):
    recording_days: int = Field(default=90, ge=1)
    draft_days: int = Field(default=30, ge=1)
    run_hours: float = Field(default=6.0, gt=0)


class IvrSettings(_Frozen):
    resume_hours: int = Field(default=48, ge=0, le=24 * 30)
    max_failures: int = Field(default=3, ge=1, le=10)
    input_timeout_seconds: int = Field(default=6, ge=2, le=30)
    record_max_seconds: int = Field(default=30, ge=3, le=300)
    operator_number: str = Field(pattern=r"^\+?\d{3,15}$")
    office_open: ClockTime = "07:30"
    office_close: ClockTime = "17:00"
    twilio_voice: str = "Google.vi-VN-Standard-A"
    espeak_voice: str = Field(default="vi-vn-x-central", pattern=r"^[a-z-]+$")


class StatusLookupSettings(_Frozen):
    """Limits on guessing the 4 citizen-id digits that open a dossier's status by phone."""

    attempts_per_call: int = Field(default=3, ge=1, le=10)
    failures_per_dossier: int = Field(default=5, ge=1, le=100)
    window_hours: float = Field(default=24, gt=0, le=24 * 30)
    block_hours: float = Field(default=24, gt=0, le=24 * 30)


class AsteriskSettings(_Frozen):
    # Prompts are played as `<sounds_prefix>/<key>`, relative to Asterisk's sounds folder
    # (or an absolute path without extension).
    sounds_prefix: str = "tongdai"
    # Where Asterisk writes recordings (as Asterisk sees the path), and the same folder as this
    # process sees it (a shared volume; empty when both run on one file system).
    recording_dir: str = "/var/spool/asterisk/recording/tongdai"
    recording_dir_local: str = ""
    # Speech for text nobody recorded (what staff typed: missing papers, a tracking number),
    # synthesised by the AGI server into this folder as Asterisk sees it (played by its path),
    # and the same folder as this process sees it (empty: the same path). At most
    # `speech_max_files` files are kept there, the least recently played removed first.
    speech_dir: str = "/var/lib/tongdai-speech"
    speech_dir_local: str = ""
    speech_max_files: int = Field(default=2000, ge=10, le=1_000_000)
    # The whole header block a FastAGI connection opens with must arrive within this time and
    # this size (Asterisk sends about 1 KiB at once); otherwise the connection is dropped.
    header_timeout_seconds: float = Field(default=5, gt=0, le=60)
    header_max_bytes: int = Field(default=16384, ge=1024, le=1024 * 1024)
    command_timeout_seconds: float = Field(default=10, gt=0, le=120)
    # Staff call-backs (AMI Originate from the AGI process): the channel dialled, {number} being
    # the national form 0...; attempts when Asterisk refuses or cannot be reached; the first
    # retry's delay (then doubling, with jitter); how often due orders are looked for; and how
    # long an order may stay "dialing" before it is taken for a process that died mid-call.
    callback_dial: str = "PJSIP/{number}@trunk"
    callback_attempts: int = Field(default=3, ge=1, le=10)
    callback_retry_seconds: float = Field(default=10, gt=0, le=600)
    callback_poll_seconds: float = Field(default=2, gt=0, le=60)
    callback_stuck_seconds: float = Field(default=60, ge=30, le=3600)

    @field_validator("callback_dial")
    @classmethod
    def _dial_names_the_number(cls, value: str) -> str:
        try:
            dialled = value.format(number="0912345678")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("may contain only the placeholder {number}") from exc
        if "{number}" not in value or "/" not in dialled:
            raise ValueError('must name {number} in a channel, e.g. "PJSIP/{number}@trunk"')
        return value


def parse_hours(value: str) -> tuple[tuple[dt.time, dt.time], ...]:
    """ "07:30-11:30,13:30-17:00" -> the windows as local times, in order."""
    windows = []
    for part in value.split(","):
        start, _, end = part.strip().partition("-")
        windows.append(
            (parse_clock(_clock_time(start.strip())), parse_clock(_clock_time(end.strip())))
        )
    return tuple(windows)


def _calling_hours(value: str) -> str:
    windows = parse_hours(value)
    for (start, end), following in zip(windows, [*windows[1:], None], strict=True):
        if not start < end or (following is not None and following[0] < end):
            raise ValueError('must be increasing local windows, e.g. "07:30-11:30,13:30-17:00"')
    return value


# Notice-call voice templates (ivr/notice_voice.py): the ones every call uses, beside one per
# called kind, and the placeholders they may name (dates are read in words; the rest is text
# staff typed, said only by a speech fallback).
VOICE_FRAME = ("intro", "menu", "confirmed", "callback", "operator", "goodbye")
VOICE_PLACEHOLDERS = frozenset({"due", "new_due", "documents", "reason", "tracking"})


class NoticeCallSettings(_Frozen):
    """Notices said by a phone call when SMS cannot reach the citizen (README, "Notice calls")."""

    enabled: bool = False
    # Local windows of working days in which the centre calls citizens.
    hours: Annotated[str, AfterValidator(_calling_hours)] = "07:30-11:30,13:30-17:00"
    # At most this many notice calls at once ...
    max_lines: int = Field(default=2, ge=1, le=100)
    # ... and never so many that fewer than `keep_free_lines` of the `trunk_lines` stay free for
    # incoming callers (they come first).
    keep_free_lines: int = Field(default=1, ge=0, le=1000)
    trunk_lines: int = Field(default=4, ge=1, le=1000)
    # Days after an attempt that did not reach the citizen before the next one (increasing:
    # boats return after days at sea); after the last, staff get a call-back task.
    retry_days: tuple[int, ...] = Field(default=(1, 2, 4), max_length=10)
    # Asterisk dial string, {number} being the national form 0...
    dial: str = "PJSIP/{number}@trunk"
    # Shown to the citizen: the centre's own hotline (empty: [centre] hotline).
    caller_id: str = Field(default="", pattern=r"^(\+?\d{3,15})?$")
    # The notice kinds said by phone: to a landline, or when their SMS failed or no delivery
    # receipt came within `no_receipt_hours`. Receipts and surveys are never called.
    kinds: tuple[str, ...] = (
        "result_ready",
        "result_collect",
        "supplement",
        "apology",
        "result_post",
        "result_post_untracked",
    )
    no_receipt_hours: float = Field(default=24, gt=0, le=24 * 30)
    # Gateway error codes meaning the number does not exist: no call either.
    invalid_number_codes: tuple[str, ...] = ("21211", "30005")
    # A call still dialing or ringing this long is taken for lost (outcome "failed").
    call_timeout_seconds: float = Field(default=300, ge=30, le=3600)
    # Seconds between two calls placed (pacing); how long the citizen's phone rings.
    pace_seconds: float = Field(default=2, ge=0, le=600)
    ring_seconds: int = Field(default=40, ge=5, le=120)
    # What the call says: VOICE_FRAME and one template per kind, in Vietnamese with diacritics.
    voice: dict[str, str] = {}

    @field_validator("retry_days")
    @classmethod
    def _retry_days_increase(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(day < 1 for day in value) or list(value) != sorted(value):
            raise ValueError("must be whole days, at least 1, never decreasing, e.g. [1, 2, 4]")
        return value

    @field_validator("kinds")
    @classmethod
    def _never_receipts_or_surveys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if {"receipt", "survey"} & set(value):
            raise ValueError("receipts and surveys are never said by phone")
        return value

    @field_validator("dial")
    @classmethod
    def _dial_names_the_number(cls, value: str) -> str:
        return AsteriskSettings._dial_names_the_number(value)

    @model_validator(mode="after")
    def _lines_fit(self) -> NoticeCallSettings:
        if self.keep_free_lines >= self.trunk_lines:
            raise ValueError("keep_free_lines must be fewer than trunk_lines")
        if self.enabled:
            for name in (*VOICE_FRAME, *self.kinds):
                if not self.voice.get(name, "").strip():
                    raise ValueError(f"voice.{name}: a voice template is needed")
        for name, template in self.voice.items():
            unknown = set(re.findall(r"\{(\w+)\}", template)) - VOICE_PLACEHOLDERS
            if unknown:
                raise ValueError(f"voice.{name}: unknown placeholder {sorted(unknown)[0]}")
        return self


class WebSettings(_Frozen):
    """Limits on what the web app reads from a request, checked before the body is parsed."""

    max_body_kib: int = Field(default=256, ge=16, le=100 * 1024)
    twilio_max_body_kib: int = Field(default=32, ge=4, le=1024)
    max_form_fields: int = Field(default=300, ge=20, le=10000)
    max_text_chars: int = Field(default=4000, ge=100, le=1_000_000)

    @model_validator(mode="after")
    def _twilio_within_the_whole(self) -> WebSettings:
        if self.twilio_max_body_kib > self.max_body_kib:
            raise ValueError("twilio_max_body_kib cannot be larger than max_body_kib")
        return self

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_kib * 1024

    @property
    def twilio_max_body_bytes(self) -> int:
        return self.twilio_max_body_kib * 1024


class ApiSettings(_Frozen):
    """The API for the processing systems (`/api/v1/...`)."""

    # A signed request whose timestamp is further than this from our clock is refused: a
    # captured request cannot be replayed later (writes are also deduplicated by event id).
    timestamp_window_seconds: int = Field(default=300, ge=30, le=3600)
    # Requests per client per minute, unless the client has its own limit.
    rate_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    # An event is a few hundred bytes; a larger body is refused with 413 before it is read.
    max_body_kib: int = Field(default=16, ge=1, le=1024)
    # Dossiers per page of `GET /api/v1/dossiers`.
    page_size: int = Field(default=50, ge=1, le=500)


class Variant(_Frozen):
    name: str = Field(min_length=1)
    days: int = Field(ge=1, le=60)
    fee_vnd: int = Field(ge=0)
    # What the citizen pays and when, as the call says it when `fee_vnd` is 0 (a fee of the
    # centre's own is read as a number instead); empty: the generic `fee_none` prompt.
    fee_text: str = ""
    # The papers the citizen hands in (at the counter or by post), as the call and the SMS say
    # them: one sentence for both, so they cannot drift apart.
    papers: str = Field(min_length=1, max_length=200)
    # The documents this variant's dossier holds, in full, as the published procedure lists them.
    documents: tuple[str, ...] = ()
    reasons: dict[str, str] = Field(default_factory=dict)


FieldKind = Literal["text", "date", "citizen_id", "phone", "vessel_number", "length_m"]
# What the phone line can ask beyond the common questions, per procedure (ivr/flow.py).
PhoneQuestion = Literal["date_of_birth", "length_band"]


class FormField(_Frozen):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    kind: FieldKind = "text"
    required: bool = False
    variants: tuple[str, ...] = ()


AUTHORITY_KEYS = frozenset({"under_12", "12_to_15", "15_up", "unknown"})


class Procedure(_Frozen):
    name: str = Field(min_length=1)
    short_name: str = Field(min_length=1)
    national_code: str = ""
    min_vessel_length_m: float = Field(gt=0)
    completeness_check_days: int = Field(ge=0, le=30)
    documents: tuple[str, ...] = ()
    # The vessel is inspected (staff set an appointment after reception; the SMS asks XN / DOI).
    inspection: bool = False
    variants: dict[str, Variant]
    fields: tuple[FormField, ...] = ()
    phone_questions: tuple[PhoneQuestion, ...] = ()
    # Who decides, by the vessel's length band (intake/routing.py): the band's name, or
    # "unknown" while neither the caller's band nor the exact length is known.
    authorities: dict[str, str] = {}

    def documents_for(self, variant: str | None) -> tuple[str, ...]:
        """The documents list of `variant` (a re-issue has its own), else the procedure's."""
        chosen = self.variants.get(variant or "")
        return chosen.documents if chosen is not None and chosen.documents else self.documents

    @model_validator(mode="after")
    def _authorities_cover_every_band(self) -> Procedure:
        # The bands of intake.vessel_length.LengthBand (a test keeps the two in step).
        keys = set(self.authorities)
        if keys and keys != AUTHORITY_KEYS:
            raise ValueError(
                f"authorities needs exactly {sorted(AUTHORITY_KEYS)}: a vessel of any length, "
                "or of no known length, must have someone to decide"
            )
        return self

    @model_validator(mode="after")
    def _fields_name_known_variants(self) -> Procedure:
        if not self.variants:
            raise ValueError("a procedure needs at least one variant")
        keys = [f.key for f in self.fields]
        if len(keys) != len(set(keys)):
            raise ValueError("form field keys must be unique")
        for field in self.fields:
            unknown = set(field.variants) - set(self.variants)
            if unknown:
                raise ValueError(f"field {field.key!r} names unknown variants {sorted(unknown)}")
        return self


class OnestopSettings(_Frozen):
    """The national public-service portal (DVCQG) sync, docs/onestop.md. Off by default; the
    adapter's address and credentials come from the environment (TONGDAI_ONESTOP_*)."""

    enabled: bool = False
    # The centre's unit code: the prefix of every dossier code, and the envelope's `madonvi`.
    madonvi: str = Field(pattern=r"^[0-9A-Z]+(\.[0-9A-Z]+)*$", max_length=30)
    auth_path: str = Field(default="/auth", pattern=r"^/")
    integration_path: str = Field(default="/integration", pattern=r"^/")
    share_path: str = Field(default="/share", pattern=r"^/")
    batch_size: int = Field(default=20, ge=1, le=500)
    # `KenhThucHien` sent for phone dossiers: "2" (online) by default, README says why.
    channel: Literal["1", "2", "3"] = "2"
    retry_hours: float = Field(default=72.0, gt=0, le=24 * 60)
    timeout_seconds: float = Field(default=6.0, gt=0, le=120)
    # The phone channel's share of each day's 4-digit sequence under `madonvi`: the province
    # one-stop system numbers from 0001 up, we from `sequence_first` to `sequence_last`.
    sequence_first: int = Field(default=8000, ge=1, le=9999)
    sequence_last: int = Field(default=9999, ge=1, le=9999)
    # Once the province system registered a dossier under its own code (`external_code`):
    # "ours" keeps pushing it under our code, "province" stops and leaves it to that system.
    after_registration: Literal["ours", "province"] = "ours"

    @model_validator(mode="after")
    def _range_in_order(self) -> OnestopSettings:
        if self.sequence_last < self.sequence_first:
            raise ValueError("sequence_last comes before sequence_first")
        return self


class Settings(_Frozen):
    """Everything the program reads from config.toml and the environment."""

    centre: Centre
    provinces: dict[str, str]
    calendar: CalendarSettings = CalendarSettings()
    sms: SmsSettings
    scheduler: SchedulerSettings
    retention: RetentionSettings = RetentionSettings()
    procedures: dict[str, Procedure]
    ivr: IvrSettings
    status_lookup: StatusLookupSettings = StatusLookupSettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    notice_calls: NoticeCallSettings = NoticeCallSettings()
    web: WebSettings = WebSettings()
    api: ApiSettings = ApiSettings()
    onestop: OnestopSettings
    prompts: dict[str, str]

    # From the environment (never from the file).
    database_url: str = ""
    secret_key: str = ""
    public_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    sms_gateway: Literal["console", "twilio", "smpp"] = "console"
    smpp_password: str | None = None
    ami_url: str | None = None
    smtp_url: str | None = None
    # Reverse proxies whose X-Forwarded-For is believed (log-in throttling, audit).
    trusted_proxies: tuple[Network, ...] = ()
    # Monitoring sends it as X-Health-Token to see /healthz's details; unset: staff only.
    health_token: str | None = None
    # Fernet keys that encrypt the API clients' secrets at rest: the first encrypts, any decrypts
    # (comma-separated, so a key can be rotated).
    api_secrets_key: str = ""

    @field_validator("api_secrets_key")
    @classmethod
    def _fernet_keys(cls, value: str) -> str:
        for key in filter(None, (part.strip() for part in value.split(","))):
            try:
                raw = base64.urlsafe_b64decode(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raw = b""
            if len(raw) != 32:
                raise ValueError(
                    "TONGDAI_API_SECRETS_KEY: each key is 32 bytes in URL-safe base64 (44"
                    " characters); make one with: python3 -c 'import base64, os;"
                    " print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
                )
        return value

    # The national portal's integration adapter (TONGDAI_ONESTOP_URL, _USER, _PASSWORD, _DSTCODE).
    onestop_url: str | None = None
    onestop_user: str | None = None
    onestop_password: str | None = None
    onestop_dstcode: str | None = None
    data_dir: Path = Path("var")
    config_path: Path = DEFAULT_CONFIG

    @model_validator(mode="before")
    @classmethod
    def _code_prefix_is_the_unit_code(cls, data: object) -> object:
        """Dossier codes begin with the unit code the portal knows (`[onestop] madonvi`);
        `centre.agency_id` is that value, kept for the code that reads it."""
        if not isinstance(data, dict) or not isinstance(data.get("centre"), dict):
            return data
        if "agency_id" in data["centre"]:
            raise ValueError("centre.agency_id is now [onestop] madonvi: remove it")
        onestop = data.get("onestop")
        madonvi = onestop.get("madonvi") if isinstance(onestop, dict) else None
        if madonvi is None:
            return data
        return {**data, "centre": {**data["centre"], "agency_id": madonvi}}

    @model_validator(mode="after")
    def _home_province_listed(self) -> Settings:
        if self.centre.home_province not in self.provinces:
            raise ValueError(
                f"centre.home_province {self.centre.home_province!r} is not in [provinces]"
            )
        for required in ("fishing_licence", "vessel_safety"):
            if required not in self.procedures:
                raise ValueError(f"procedures.{required} is missing")
        if self.onestop.enabled:
            missing = [
                name
                for name, value in (
                    ("TONGDAI_ONESTOP_URL", self.onestop_url),
                    ("TONGDAI_ONESTOP_USER", self.onestop_user),
                    ("TONGDAI_ONESTOP_PASSWORD", self.onestop_password),
                    ("TONGDAI_ONESTOP_DSTCODE", self.onestop_dstcode),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"onestop.enabled needs {', '.join(missing)} in the environment")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.centre.timezone)


def _environment(env: os._Environ[str] | dict[str, str], data_dir: Path) -> dict[str, object]:
    values: dict[str, object] = {"data_dir": data_dir}
    mapping = {
        "DATABASE_URL": "database_url",
        "TONGDAI_SECRET_KEY": "secret_key",
        "TONGDAI_PUBLIC_URL": "public_url",
        "TWILIO_ACCOUNT_SID": "twilio_account_sid",
        "TWILIO_AUTH_TOKEN": "twilio_auth_token",
        "TONGDAI_SMS_GATEWAY": "sms_gateway",
        "TONGDAI_SMPP_PASSWORD": "smpp_password",
        "TONGDAI_AMI_URL": "ami_url",
        "TONGDAI_SMTP_URL": "smtp_url",
        "TONGDAI_HEALTH_TOKEN": "health_token",
        "TONGDAI_API_SECRETS_KEY": "api_secrets_key",
        "TONGDAI_ONESTOP_URL": "onestop_url",
        "TONGDAI_ONESTOP_USER": "onestop_user",
        "TONGDAI_ONESTOP_PASSWORD": "onestop_password",
        "TONGDAI_ONESTOP_DSTCODE": "onestop_dstcode",
    }
    for name, key in mapping.items():
        if env.get(name):
            values[key] = env[name]
    try:
        values["trusted_proxies"] = parse_networks(env.get("TONGDAI_TRUSTED_PROXIES", ""))
    except ValueError as exc:
        raise SettingsError(f"TONGDAI_TRUSTED_PROXIES: {exc}") from None
    if not values.get("database_url"):
        values["database_url"] = f"sqlite:///{(data_dir / 'tongdai.sqlite3').resolve()}"
    return values


def _dev_secret_key(data_dir: Path) -> str:
    """A random key kept under var/ so dev sessions survive restarts (README, "Settings":
    `TONGDAI_SECRET_KEY` defaults to one generated once into `var/secret_key`)."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _dev_api_secrets_key(data_dir: Path) -> str:
    """A Fernet key (32 random bytes, URL-safe base64) kept in `var/api_secrets_key` in dev, as
    the session key is; production sets TONGDAI_API_SECRETS_KEY."""
    path = data_dir / "api_secrets_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    path.write_text(key)
    path.chmod(0o600)
    return key


def _describe(error: ValidationError, path: Path) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: {location}: {message}{suffix}"


def load_settings(
    path: Path | str | None = None, env: os._Environ[str] | dict[str, str] | None = None
) -> Settings:
    """Read the TOML file and the environment; raise SettingsError with a one-line message."""
    env = os.environ if env is None else env
    path = Path(path or env.get("TONGDAI_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(f"{path}: settings file not found (set TONGDAI_CONFIG)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    for key in ("database_url", "secret_key", "api_secrets_key", "public_url", "data_dir",
                "config_path"):  # fmt: skip
        if key in raw:
            raise SettingsError(f"{path}: {key}: set it in the environment, not in the file")
    data_dir = Path(env.get("TONGDAI_DATA_DIR") or "var")
    try:
        settings = Settings(**raw, **_environment(env, data_dir), config_path=path)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from exc
    if not settings.secret_key:
        settings = settings.model_copy(update={"secret_key": _dev_secret_key(data_dir)})
    if not settings.api_secrets_key:
        settings = settings.model_copy(update={"api_secrets_key": _dev_api_secrets_key(data_dir)})
    return settings
