"""What the portal gets: a dossier record (DongBoHoSoMC) and progress records
(CapNhatTienDoHoSoMC), built from our rows. Pure functions of `DossierFacts`; the field list
and its sources are docs/onestop.md.

Every value is a string (or a list), exactly as the portal wants it: dates `yyyyMMddHHmmss` in
local time, `""` when absent, codes as digits in a string.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.models import Applicant, Dossier, DossierEvent, Role, StaffUser
from intake.phone import national_display
from intake.statuses import Delivery, DossierStatus
from onestop.models import ProcedureEntry
from plumbing.settings import Settings, parse_clock

# The newest public client cuts these; the portal's own limits are not published.
SUMMARY_MAX = 1000
PERSON_MAX = 50
# LoaiDoiTuong: 1 citizen. Boat owners apply as persons.
CITIZEN = "1"
# Who did a step, for the parts of the system that act on their own.
SYSTEM_ACTORS = {
    "ivr": "Tổng đài tự động",
    "scheduler": "Hệ thống tự động",
    "sms": "Tin nhắn của công dân",
}
ROLE_TITLES = {
    Role.OPERATOR: "Cán bộ tiếp nhận",
    Role.SUPERVISOR: "Lãnh đạo",
    Role.ADMIN: "Quản trị hệ thống",
}


@dataclass(frozen=True)
class DossierFacts:
    """Everything a record is built from, loaded in one place (`load_facts`)."""

    dossier: Dossier
    applicant: Applicant | None
    events: Sequence[DossierEvent]
    catalogue: ProcedureEntry | None
    roles: Mapping[str, Role] = field(default_factory=dict)  # username -> role


def load_facts(session: Session, dossier: Dossier, settings: Settings) -> DossierFacts:
    applicant = session.get(Applicant, dossier.applicant_id) if dossier.applicant_id else None
    events = list(
        session.scalars(
            select(DossierEvent)
            .where(DossierEvent.dossier_id == dossier.id)
            .order_by(DossierEvent.at, DossierEvent.id)
        )
    )
    national_code = settings.procedures[dossier.procedure].national_code
    return DossierFacts(
        dossier=dossier,
        applicant=applicant,
        events=events,
        catalogue=session.get(ProcedureEntry, national_code) if national_code else None,
        roles=staff_roles(session, events),
    )


def staff_roles(session: Session, events: Sequence[DossierEvent]) -> dict[str, Role]:
    names = {e.actor.removeprefix("staff:") for e in events if e.actor.startswith("staff:")}
    if not names:
        return {}
    rows = session.execute(
        select(StaffUser.username, StaffUser.role).where(StaffUser.username.in_(names))
    )
    return {username: role for username, role in rows}


def portal_time(at: dt.datetime | None, zone: ZoneInfo) -> str:
    """`yyyyMMddHHmmss` in local time; `""` for none."""
    if at is None:
        return ""
    return at.astimezone(zone).strftime("%Y%m%d%H%M%S")


def portal_due(day: dt.date | None, settings: Settings) -> str:
    """A due date is a local day; the result is due by the office's closing time that day."""
    if day is None:
        return ""
    closing = parse_clock(settings.ivr.office_close)
    return dt.datetime.combine(day, closing).strftime("%Y%m%d%H%M%S")


def _iso_day(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def actor_fields(actor: str, roles: Mapping[str, Role], settings: Settings) -> dict[str, str]:
    """NguoiXuLy, ChucDanh, PhongBanXuLy of the one who did a step."""
    if actor.startswith("staff:"):
        username = actor.removeprefix("staff:")
        role = roles.get(username)
        return {
            "NguoiXuLy": username[:PERSON_MAX],
            "ChucDanh": ROLE_TITLES.get(role, "Cán bộ") if role else "Cán bộ",
            "PhongBanXuLy": settings.centre.name,
        }
    return {
        "NguoiXuLy": SYSTEM_ACTORS.get(actor, actor)[:PERSON_MAX],
        "ChucDanh": "",
        "PhongBanXuLy": settings.centre.name,
    }


def what_was_done(event: DossierEvent) -> str:
    """NoiDungXuLy: the step in the words staff use, with its reason."""
    details = event.details or {}
    action = details.get("action")
    if action == "new_date":
        text = f"Hẹn lại ngày trả kết quả: {_iso_day(details.get('new_due')):%d/%m/%Y}"
    elif action == "dispatched":
        tracking = details.get("tracking") or ""
        text = "Gửi kết quả qua bưu chính" + (f", mã bưu gửi {tracking}" if tracking else "")
    elif event.to_status is not None and event.to_status != event.from_status:
        text = event.to_status.label
    else:
        text = action or "Cập nhật hồ sơ"
    documents = details.get("documents") or []
    if documents:
        text += ". Giấy tờ cần bổ sung: " + "; ".join(documents)
    if event.reason:
        text += f". Lý do: {event.reason}"
    return text


def progress_record(
    dossier: Dossier, event: DossierEvent, roles: Mapping[str, Role], settings: Settings
) -> dict[str, str]:
    """One CapNhatTienDoHoSoMC item: who, when, what, the status after it, and the step's legal
    end (the due date the citizen was promised at that moment)."""
    status = event.to_status or dossier.status
    return {
        "MaHoSo": dossier.code or "",
        **actor_fields(event.actor, roles, settings),
        "ThoiDiemXuLy": portal_time(event.at, settings.zone),
        "NoiDungXuLy": what_was_done(event),
        "TrangThai": str(status.national_code),
        "NgayBatDau": portal_time(event.at, settings.zone),
        "NgayKetThucTheoQuyDinh": portal_due(dossier.effective_due_date, settings),
    }


def supplement_rounds(facts: DossierFacts, settings: Settings) -> list[dict[str, Any]]:
    """DanhSachHoSoBoSung: each request to supplement, and when the citizen answered it, with
    the due date before and after the wait (which does not count against the time limit)."""
    rounds: list[dict[str, Any]] = []
    zone = settings.zone
    code = facts.dossier.code or ""
    for event in facts.events:
        entering = (
            event.to_status is DossierStatus.SUPPLEMENT_REQUESTED
            and event.from_status is not DossierStatus.SUPPLEMENT_REQUESTED
        )
        leaving = (
            event.from_status is DossierStatus.SUPPLEMENT_REQUESTED
            and event.to_status is not DossierStatus.SUPPLEMENT_REQUESTED
        )
        if entering:
            documents = (event.details or {}).get("documents") or []
            rounds.append(
                {
                    "HoSoBoSungId": f"{code}-BS{len(rounds) + 1}",
                    "NguoiYeuCauBoSung": actor_fields(event.actor, facts.roles, settings)[
                        "NguoiXuLy"
                    ],
                    "NoiDungBoSung": "; ".join(
                        [*documents, event.reason] if event.reason else documents
                    ),
                    "NgayBoSung": portal_time(event.at, zone),
                    "NguoiTiepNhanBoSung": "",
                    "ThongTinTiepNhan": "",
                    "NgayTiepNhanBoSung": "",
                    "TrangThaiBoSung": "0",
                    "DanhSachGiayToBoSung": [{"TenGiayTo": name} for name in documents],
                    "DanhSachLePhiBoSung": [],
                    "NgayHenTraTruoc": portal_due(facts.dossier.due_date, settings),
                    "NgayHenTraMoi": "",
                }
            )
        elif leaving and rounds:
            details = event.details or {}
            rounds[-1].update(
                {
                    "NguoiTiepNhanBoSung": actor_fields(event.actor, facts.roles, settings)[
                        "NguoiXuLy"
                    ],
                    "ThongTinTiepNhan": "Công dân đã bổ sung hồ sơ",
                    "NgayTiepNhanBoSung": portal_time(event.at, zone),
                    "TrangThaiBoSung": "1",
                    "NgayHenTraTruoc": portal_due(_iso_day(details.get("due_before")), settings),
                    "NgayHenTraMoi": portal_due(_iso_day(details.get("due_after")), settings),
                }
            )
    return rounds


def fees(facts: DossierFacts, settings: Settings) -> list[dict[str, str]]:
    """DanhSachLePhi: the variant's fee from config.toml, when there is one."""
    dossier = facts.dossier
    procedure = settings.procedures[dossier.procedure]
    variant = procedure.variants.get(dossier.variant or "")
    if variant is None or variant.fee_vnd <= 0:
        return []
    return [
        {
            "TenPhiLePhi": f"Lệ phí {procedure.name.lower()} ({variant.name.lower()})",
            "MaPhiLePhi": "",
            "HinhThucThu": "",
            "Gia": str(variant.fee_vnd),
            "LoaiPhiLePhi": "1",
        }
    ]


def _first_event_at(facts: DossierFacts, status: DossierStatus) -> dt.datetime | None:
    for event in facts.events:
        if event.to_status is status and event.from_status is not status:
            return event.at
    return None


def summary(facts: DossierFacts, settings: Settings) -> str:
    dossier = facts.dossier
    procedure = settings.procedures[dossier.procedure]
    parts = [procedure.name]
    variant = procedure.variants.get(dossier.variant or "")
    if variant is not None:
        parts.append(variant.name)
    vessel = (dossier.form or {}).get("vessel_number")
    if vessel:
        parts.append(f"tàu {vessel}")
    parts.append("nộp qua tổng đài điện thoại")
    return ", ".join(parts)[:SUMMARY_MAX]


def dossier_record(facts: DossierFacts, settings: Settings) -> dict[str, Any]:
    """One DongBoHoSoMC item: the whole dossier as it stands (a full snapshot)."""
    dossier = facts.dossier
    zone = settings.zone
    procedure = settings.procedures[dossier.procedure]
    catalogue = facts.catalogue
    form = dossier.form or {}
    applicant = facts.applicant
    phone = dossier.notify_phone or dossier.caller_phone
    owner = (applicant.name if applicant else None) or form.get("owner_name") or ""
    citizen_id = (applicant.citizen_id if applicant else None) or form.get("citizen_id") or ""
    return {
        "MaHoSo": dossier.code or "",
        "MaTTHC": procedure.national_code,
        "TenTTHC": catalogue.name if catalogue else procedure.name,
        "MaLinhVuc": catalogue.sector_code if catalogue else "",
        "TenLinhVuc": catalogue.sector_name if catalogue else "",
        "KenhThucHien": settings.onestop.channel,
        "ChuHoSo": owner,
        "LoaiDoiTuong": CITIZEN,
        "MaDoiTuong": "",
        "SoGiayToChuHoSo": citizen_id,
        "SoDienThoai": national_display(phone) if phone else "",
        "Email": "",
        "Fax": "",
        "TrichYeuHoSo": summary(facts, settings),
        "NgayNopHoSo": portal_time(dossier.received_at, zone),
        "NgayTiepNhan": portal_time(dossier.received_at, zone),
        "NgayHenTra": portal_due(dossier.due_date, settings),
        "NgayTra": portal_time(_first_event_at(facts, DossierStatus.RETURNED), zone),
        "NgayKetThucXuLy": portal_time(dossier.result_ready_at, zone),
        "NgayTuChoi": portal_time(_first_event_at(facts, DossierStatus.REFUSED), zone),
        "TrangThaiHoSo": str(dossier.status.national_code),
        "HinhThuc": "1" if dossier.delivery is Delivery.POST else "0",
        "DonViXuLy": (catalogue.agency_name if catalogue else "") or settings.centre.name,
        "ThongTinKhac": "",
        "GhiChu": "",
        "TaiLieuNop": [],
        "DanhSachLePhi": fees(facts, settings),
        "DanhSachHoSoBoSung": supplement_rounds(facts, settings),
        "DanhSachGiayToKetQua": [],
    }
