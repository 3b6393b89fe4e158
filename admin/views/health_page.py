"""The system page: is each part of the installation working, in words staff understand."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, render_template

from admin.auth import login_required, now, runtime
from admin.formatting import local_datetime
from admin.health_checks import STALE_AFTER, check_database, check_parts
from onestop.queries import latest_reconciliation
from plumbing.heartbeat import read as read_heartbeats

blueprint = Blueprint("health_page", __name__, url_prefix="/admin")
# Below either, the disk is worth a warning: recordings and the SQLite file live there.
DISK_MIN_FREE_BYTES = 2 * 1024**3
DISK_MIN_FREE_SHARE = 0.10
LABELS = {"ok": "Bình thường", "warn": "Cần chú ý", "bad": "Lỗi", "off": "Không dùng"}


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # ok, warn, bad, off
    detail: str

    @property
    def label(self) -> str:
        return LABELS[self.state]


def _ago(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} giây trước"
    if seconds < 3600:
        return f"{seconds // 60} phút trước"
    if seconds < 86400:
        return f"{seconds // 3600} giờ {seconds % 3600 // 60} phút trước"
    return f"{seconds // 86400} ngày trước"


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} giây"
    if seconds < 3600:
        return f"{seconds // 60} phút"
    return f"{seconds // 3600} giờ {seconds % 3600 // 60} phút"


def _bytes(value: float) -> str:
    gib = value / 1024**3
    if gib >= 1:
        return f"{gib:.1f} GB".replace(".", ",")
    return f"{value / 1024**2:.0f} MB"


def disk_check(folder: Path) -> Check:
    target = folder
    while not target.exists() and target != target.parent:
        target = target.parent  # the folder is created on first use; measure its disk meanwhile
    try:
        usage = shutil.disk_usage(target)
    except OSError as exc:
        return Check(
            "Dung lượng đĩa (thư mục dữ liệu)",
            "bad",
            f"Không đọc được {folder}: {exc.strerror or exc}",
        )
    free_share = usage.free / usage.total if usage.total else 0
    low = usage.free < DISK_MIN_FREE_BYTES or free_share < DISK_MIN_FREE_SHARE
    detail = (
        f"Còn trống {_bytes(usage.free)} trên {_bytes(usage.total)} "
        f"({free_share * 100:.0f} %) — {folder.resolve()}"
    )
    return Check("Dung lượng đĩa (thư mục dữ liệu)", "warn" if low else "ok", detail)


def checks() -> list[Check]:
    rt = runtime()
    current = now()
    zone = rt.settings.zone
    database = check_database(rt)
    result = []
    if database["ok"]:
        result.append(Check("Cơ sở dữ liệu", "ok", f"Kết nối tốt ({database['backend']})"))
    else:
        result.append(Check("Cơ sở dữ liệu", "bad", f"Không kết nối được ({database['error']})"))
        unknown = "Không kiểm tra được khi cơ sở dữ liệu không hoạt động."
        result += [
            Check(name, "bad", unknown)
            for name in (
                "Tổng đài Asterisk (AMI)",
                "Bộ lập lịch",
                "Hàng đợi tin nhắn",
                "Đồng bộ Cổng DVCQG",
            )
        ]
        result.append(disk_check(rt.settings.data_dir))
        return result

    parts = check_parts(rt)
    with rt.sessions() as session:
        beats = read_heartbeats(session)

    ami = parts["ami"]
    if ami.get("configured") is False:
        result.append(
            Check(
                "Tổng đài Asterisk (AMI)",
                "off",
                "Chưa cấu hình (cài đặt dùng Twilio hoặc chạy thử).",
            )
        )
    else:
        beat = beats.get("ami")
        seen = (
            f"tín hiệu cuối {_ago((current - beat.beat_at).total_seconds())}"
            if beat
            else ("chưa nhận được tín hiệu nào")
        )
        if ami["ok"]:
            result.append(Check("Tổng đài Asterisk (AMI)", "ok", f"Đã kết nối, {seen}"))
        else:
            state = "mất kết nối" if beat and not ami.get("connected") else "không có tín hiệu"
            result.append(Check("Tổng đài Asterisk (AMI)", "bad", f"Lỗi: {state}, {seen}"))

    leader = beats.get("scheduler-leader")
    if leader is None:
        result.append(Check("Bộ lập lịch", "bad", "Chưa có tiến trình lập lịch nào báo hoạt động."))
    else:
        age = current - leader.beat_at
        fresh = age < STALE_AFTER
        result.append(
            Check(
                "Bộ lập lịch",
                "ok" if fresh else "bad",
                f"{'Đang chạy' if fresh else 'Không còn tín hiệu'} trên {leader.holder}, "
                f"tín hiệu cuối {_ago(age.total_seconds())} "
                f"({local_datetime(leader.beat_at, zone)})",
            )
        )

    if "smpp" in parts:
        result.append(_smpp_check(parts["smpp"]))

    sms = parts["sms"]
    oldest = int(sms["oldest_pending_seconds"])
    waiting = (
        f"{sms['pending_due']} tin chờ gửi, {sms['held']} tin giữ lại (giờ yên tĩnh "
        f"hoặc chờ gửi lại), {sms['retrying']} tin đang gửi lại"
    )
    if sms["pending_due"]:
        detail = f"Tin chờ lâu nhất: {_duration(oldest)}. {waiting}."
    else:
        detail = f"Không có tin nào quá hạn gửi. {waiting}."
    state = "ok" if sms["ok"] else "warn"
    if oldest > dt.timedelta(hours=1).total_seconds():
        state = "bad"
    result.append(Check("Hàng đợi tin nhắn", state, detail))
    result.append(onestop_check(parts["onestop"]))
    result.append(disk_check(rt.settings.data_dir))
    return result


SMPP_STATES = {
    "bound": "đã kết nối",
    "standby": "chờ (tiến trình khác đang giữ kết nối, theo số kết nối nhà mạng cho phép)",
    "refused": "nhà mạng từ chối kết nối (đã đủ số kết nối cho phép)",
}


def _smpp_check(smpp: dict) -> Check:
    name = "Kết nối SMPP (nhà mạng)"
    processes = smpp["processes"]
    if not processes:
        return Check(name, "bad", "Chưa có tiến trình lập lịch nào báo trạng thái kết nối SMPP.")
    lines = []
    for process in processes:
        state = SMPP_STATES.get(process["state"], "mất kết nối")
        errors = [b["error"] for b in process["binds"] or [] if b.get("error")]
        shown = errors and process["state"] not in ("bound", "standby")
        reason = f" ({errors[0]})" if shown else ""
        lines.append(f"{process['holder']}: {state}{reason}")
    return Check(name, "ok" if smpp["ok"] else "bad", "; ".join(lines))


def onestop_check(part: dict) -> Check:
    """The health card of the national portal sync: backlog, oldest waiting record, refusals."""
    name = "Đồng bộ Cổng DVCQG"
    if part.get("configured") is False:
        return Check(name, "off", "Chưa bật đồng bộ ([onestop] enabled = false).")
    oldest = int(part["oldest_pending_seconds"])
    detail = (
        f"{part['backlog']} bản ghi chờ gửi"
        + (f", chờ lâu nhất {_duration(oldest)}" if part["backlog"] else "")
        + f". {part['stopped_dossiers']} hồ sơ bị Cổng từ chối hoặc gửi không thành công, "
        "chờ cán bộ xử lý."
    )
    if part["last_reconciliation"]:
        detail += f" Đối soát gần nhất: {part['reconciliation_mismatches']} hồ sơ lệch."
    state = "ok" if part["ok"] else "bad"
    if state == "ok" and part["stopped_dossiers"]:
        state = "warn"
    return Check(name, state, detail)


@blueprint.get("/health")
@login_required
def index():
    found = checks()
    reconciliation = None
    if runtime().settings.onestop.enabled:
        with runtime().sessions() as session:
            reconciliation = latest_reconciliation(session)
    return render_template(
        "admin/health.html",
        checks=found,
        reconciliation=reconciliation,
        healthy=all(c.state in ("ok", "off") for c in found),
        checked_at=now(),
    )
