"""The API's bodies as pydantic models: they validate what comes in, shape what goes out, and
the OpenAPI document is generated from them (api/openapi.py), so the three cannot disagree."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from intake.statuses import DossierStatus

EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
CODE_PATTERN = r"^[0-9A-Z.]{1,30}-[0-9]{6}-[0-9]{4}$"

# Free text: no control characters but tab and line breaks (PostgreSQL cannot store NUL, and
# nobody types the others).
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _text(min_length: int, max_length: int) -> Any:
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=PRINTABLE),
    ]


Text200 = _text(0, 200)
Paper = _text(1, 200)
# A status by our name (`result_ready`) or by the national code (9).
StatusName = Literal[tuple(s.value for s in DossierStatus if s is not DossierStatus.DRAFT)]  # type: ignore[valid-type]
NationalCode = Annotated[int, Field(ge=1, le=10)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Actor(_In):
    """The officer of the processing department who made the change."""

    name: _text(1, 200)  # type: ignore[valid-type]
    title: Text200 = ""  # type: ignore[valid-type]
    department: Text200 = ""  # type: ignore[valid-type]


class _EventBase(_In):
    event_id: Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN)] = Field(
        description="Chosen by the caller, unique per client: the same id with the same body is"
        " applied once and answered the same; with another body it is refused (422)."
    )
    at: AwareDatetime = Field(description="When it happened, ISO 8601 with an offset.")
    actor: Actor
    note: _text(0, 2000) = ""  # type: ignore[valid-type]


class StatusEvent(_EventBase):
    """A change of status. A supplement request needs `papers` and `reason`; a refusal,
    withdrawal or stop needs `reason` (or `note`)."""

    type: Literal["status"]
    status: StatusName | NationalCode
    papers: Annotated[list[Paper], Field(max_length=30)] = []  # type: ignore[valid-type]
    reason: _text(0, 300) = ""  # type: ignore[valid-type]


class NewDueDateEvent(_EventBase):
    """The result will be late: a new return date and the reason (the citizen gets the
    apology SMS)."""

    type: Literal["new_due_date"]
    new_due_date: dt.date
    reason: _text(1, 300)  # type: ignore[valid-type]


class DispatchEvent(_EventBase):
    """The result went to the citizen by post."""

    type: Literal["dispatched_by_post"]
    tracking_number: Annotated[
        str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$")
    ]


Event = Annotated[StatusEvent | NewDueDateEvent | DispatchEvent, Field(discriminator="type")]


class DossierQuery(_In):
    """The query of `GET /api/v1/dossiers`."""

    changed_since: AwareDatetime = Field(
        default=None,  # type: ignore[assignment]
        description="Only dossiers changed at or after this moment (ISO 8601 with an offset)",
    )
    cursor: Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9_-]*$")] = Field(
        default=None,  # type: ignore[assignment]
        description="`next_cursor` of the previous page",
    )
    external_code: Annotated[
        str, StringConstraints(min_length=1, max_length=40, pattern=PRINTABLE)
    ] = Field(
        default=None,  # type: ignore[assignment]
        description="The code the province's one-stop system gave (then no paging)",
    )


# ---- answers ---------------------------------------------------------------------------------


class Status(BaseModel):
    name: str = Field(description="Our name, e.g. result_ready")
    code: int | None = Field(description="The national status code (1-10)")
    label: str = Field(description="What staff read, in Vietnamese")


class Applicant(BaseModel):
    name: str | None
    phone: str | None = Field(description="E.164, the mobile that gets the SMS")
    citizen_id: str | None
    address: str | None


class Vessel(BaseModel):
    registration_number: str
    length_m: float | None


class HistoryItem(BaseModel):
    at: dt.datetime
    from_status: str | None
    to_status: str | None
    actor: str
    reason: str
    override: bool
    details: dict[str, Any]


class Recording(BaseModel):
    id: int
    purpose: str
    seconds: float
    url: str | None = Field(description="Where to fetch the audio; null once deleted")


class Dossier(BaseModel):
    code: str
    external_code: str | None
    procedure: str
    procedure_name: str
    variant: str | None
    channel: str
    delivery: str | None
    status: Status
    received_at: dt.datetime | None
    due_date: dt.date | None = Field(description="The legal due date (local day)")
    new_due_date: dt.date | None = Field(description="The date promised in an apology")
    supplement_count: int
    apology_count: int
    applicant: Applicant | None
    vessel: Vessel | None
    answers: dict[str, Any]
    history: list[HistoryItem]
    recordings: list[Recording]
    updated_at: dt.datetime
    version: int


class DossierPage(BaseModel):
    items: list[Dossier]
    next_cursor: str | None = Field(
        description="Pass it as `cursor` for the next page; null when this page is the last"
    )


class FieldError(BaseModel):
    field: str
    message: str


class ProblemType(StrEnum):
    INVALID = "invalid-request"
    UNSIGNED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not-found"
    TRANSITION = "transition-not-allowed"
    OVERRIDE = "supervisor-override-required"
    CONFLICT = "conflict"
    TOO_LARGE = "too-large"
    EVENT_ID_REUSED = "event-id-reused"
    RATE_LIMITED = "rate-limited"
    METHOD = "method-not-allowed"


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="The fields at fault")
    current_status: str | None = None
    allowed: list[str] | None = Field(
        default=None, description="The statuses the dossier may move to from its current one"
    )
