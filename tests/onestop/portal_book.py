"""What the national portal does with a request, as docs/onestop.md describes it, strictly:
used by the in-memory twin (tests/onestop/fake_portal.py) and the HTTP double
(tests/onestop/portal_double.py), so both answer alike.

Strict where the sheet is precise (every value a string, `isUpdating` "True"/"False", dates
`yyyyMMddHHmmss`, MaHoSo starting with the unit code, a create of an existing MaHoSo answered
"đã tồn tại", sessions that expire), and where it is silent it assumes, as docs/onestop.md
("What the double assumes") lists: the wording of an expired session, TraCuuHoSo returning
the progress records under `TienDo`, a batch taken or refused whole.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

LIST_FIELDS = frozenset(
    {"TaiLieuNop", "DanhSachLePhi", "DanhSachHoSoBoSung", "DanhSachGiayToKetQua", "DinhDanhCHS"}
)
REQUIRED_RECORD = (
    "MaHoSo", "MaTTHC", "TenTTHC", "KenhThucHien", "ChuHoSo", "LoaiDoiTuong", "SoDienThoai",
    "TrichYeuHoSo", "NgayTiepNhan", "NgayHenTra", "TrangThaiHoSo", "HinhThuc", "DonViXuLy",
)  # fmt: skip
DATE_FIELDS = frozenset(
    {"NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy", "NgayNopHoSo", "NgayTuChoi"}
)
REQUIRED_PROGRESS = (
    "MaHoSo", "NguoiXuLy", "ChucDanh", "ThoiDiemXuLy", "PhongBanXuLy", "NoiDungXuLy",
    "TrangThai", "NgayBatDau", "NgayKetThucTheoQuyDinh",
)  # fmt: skip
PROGRESS_DATES = ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh")
STATUS_CODES = frozenset(str(n) for n in range(1, 11))
DATE = re.compile(r"\d{14}")
EXPIRED = "Phiên làm việc không hợp lệ hoặc đã hết hạn"
# A record whose applicant name carries this is refused for its content (tests mark them so).
REFUSE_MARK = "[TỪ CHỐI]"

CATALOGUE = {
    "1.004359": {
        "MATTHC": "1.004359",
        "TENTTHC": "Cấp, cấp lại giấy phép khai thác thủy sản",
        "LINHVUCTHUCHIEN": [{"MALINHVUC": "G09-TS", "TENLINHVUC": "Thủy sản"}],
        "CACHTHUCTHUCHIEN": [
            {
                "KENH": "2",
                "THOIGIAN": [
                    {
                        "THOIGIANGIAIQUYET": "6",
                        "DONVITINH": "Ngày làm việc",
                        "PHILEPHI": [{"MAPHILEPHI": "LP01", "SOTIEN": "40000", "DONVI": "Đồng"}],
                    }
                ],
            }
        ],
        "THANHPHANHOSO": [],
        "COQUANTHUCHIEN": [
            {"TENDONVI": "Sở Nông nghiệp và Môi trường", "MADONVI": "000.00.21.H48"}
        ],
    },
    "1.004692": {
        "MATTHC": "1.004692",
        "TENTTHC": "Cấp giấy chứng nhận an toàn kỹ thuật tàu cá",
        "LINHVUCTHUCHIEN": [{"MALINHVUC": "G09-TS", "TENLINHVUC": "Thủy sản"}],
        "CACHTHUCTHUCHIEN": [],
        "THANHPHANHOSO": [],
        "COQUANTHUCHIEN": [{"TENDONVI": "Chi cục Thủy sản", "MADONVI": "000.00.22.H48"}],
    },
}


class Refusal(Exception):
    def __init__(self, code: object, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PortalBook:
    """The portal's state and its answers; thread-safe."""

    def __init__(
        self,
        *,
        username: str = "tongdai",
        password: str = "mat-khau",
        dstcode: str = "DVCQG-TEST",
        madonvi: str = "000.00.53.H48",
        session_seconds: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.username, self.password, self.dstcode, self.madonvi = (
            username,
            password,
            dstcode,
            madonvi,
        )
        self.session_seconds = session_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._sessions: dict[str, float] = {}
        self._success = itertools.cycle([0, "0", "00"])  # the spellings seen in the wild
        self._exists = itertools.cycle([3, -3])
        self.records: dict[str, dict[str, Any]] = {}
        self.progress: dict[str, list[dict[str, Any]]] = {}
        self.creates: Counter[str] = Counter()
        self.updates: Counter[str] = Counter()
        self.logins = 0
        self.calls: Counter[str] = Counter()

    # Entry points: one per endpoint.

    def auth(self, headers: dict[str, str], body: Any) -> dict[str, Any]:
        with self._lock:
            self._check_dstcode(headers)
            if not isinstance(body, dict) or (body.get("username"), body.get("password")) != (
                self.username,
                self.password,
            ):
                return {"error_code": 1, "message": "Sai tên đăng nhập hoặc mật khẩu"}
            token = secrets.token_hex(16)
            self._sessions[token] = self._monotonic() + self.session_seconds
            self.logins += 1
            return {"error_code": next(self._success), "message": "Thành công", "session": token}

    def integration(self, headers: dict[str, str], body: Any) -> dict[str, Any]:
        with self._lock:
            try:
                service = self._envelope(headers, body)
                self.calls[service] += 1
                handler = {
                    "TraCuuHoSo": self._lookup,
                    "DongBoHoSoMC": self._sync,
                    "CapNhatTienDoHoSoMC": self._progress,
                    "LayThuTuc": self._procedure,
                }.get(service)
                if handler is None:
                    raise Refusal(1, f"Dịch vụ {service!r} không tồn tại")
                result = handler(body)
            except Refusal as refusal:
                return {"error_code": refusal.code, "message": refusal.message, "result": []}
            return {"error_code": next(self._success), "message": "Thành công", "result": result}

    def share(self, headers: dict[str, str], body: Any) -> dict[str, Any]:
        with self._lock:
            try:
                service = self._envelope(headers, body)
                if service != "LayDanhSachTTHC":
                    raise Refusal(1, f"Dịch vụ {service!r} không tồn tại")
            except Refusal as refusal:
                return {"error_code": refusal.code, "message": refusal.message, "result": []}
            listing = [{"MATTHC": k, "TENTTHC": v["TENTTHC"]} for k, v in CATALOGUE.items()]
            return {"error_code": next(self._success), "message": "Thành công", "result": listing}

    def snapshot(self) -> dict[str, Any]:
        """Everything the portal holds, for the tests' assertions."""
        with self._lock:
            return {
                "records": dict(self.records),
                "progress": {k: list(v) for k, v in self.progress.items()},
                "creates": dict(self.creates),
                "updates": dict(self.updates),
                "logins": self.logins,
                "calls": dict(self.calls),
            }

    def expire_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    # The checks every call passes.

    def _check_dstcode(self, headers: dict[str, str]) -> None:
        if headers.get("dstcode") != self.dstcode:
            raise Refusal(401, "Thiếu hoặc sai dstcode")

    def _envelope(self, headers: dict[str, str], body: Any) -> str:
        self._check_dstcode(headers)
        if not isinstance(body, dict):
            raise Refusal(1, "Dữ liệu không hợp lệ")
        expires = self._sessions.get(str(body.get("session")))
        if expires is None or expires < self._monotonic():
            raise Refusal(-1, EXPIRED)
        if body.get("madonvi") != self.madonvi:
            raise Refusal(1, f"Mã đơn vị {body.get('madonvi')!r} không hợp lệ")
        service = body.get("service")
        if not isinstance(service, str):
            raise Refusal(1, "Thiếu service")
        return service

    # The services.

    def _lookup(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        code = body.get("mahoso")
        if not isinstance(code, str):
            raise Refusal(1, "Thiếu mahoso")
        record = self.records.get(code)
        if record is None:
            return []
        return [{**record, "TienDo": list(self.progress.get(code, []))}]

    def _sync(self, body: dict[str, Any]) -> list[Any]:
        updating = body.get("isUpdating")
        if updating not in ("True", "False"):
            raise Refusal(1, f'isUpdating phải là chuỗi "True" hoặc "False", nhận {updating!r}')
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise Refusal(1, "data phải là một danh sách hồ sơ")
        for record in data:  # a batch is taken or refused whole
            self._check_record(record)
            code = record["MaHoSo"]
            if updating == "False" and code in self.records:
                raise Refusal(next(self._exists), f"Hồ sơ {code} đã tồn tại")
            if updating == "True" and code not in self.records:
                raise Refusal(4, f"Hồ sơ {code} không tồn tại")
            if REFUSE_MARK in record["ChuHoSo"]:
                raise Refusal(2, f"Hồ sơ {code}: thông tin chủ hồ sơ không hợp lệ")
        for record in data:
            code = record["MaHoSo"]
            (self.updates if updating == "True" else self.creates)[code] += 1
            self.records[code] = record
        return []

    def _progress(self, body: dict[str, Any]) -> list[Any]:
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise Refusal(1, "data phải là một danh sách tiến độ")
        for item in data:
            self._check_progress(item)
        for item in data:
            self.progress.setdefault(item["MaHoSo"], []).append(item)
        return []

    def _procedure(self, body: dict[str, Any]) -> list[Any]:
        entry = CATALOGUE.get(str(body.get("maTTHC")))
        return [entry] if entry else []

    def _check_record(self, record: Any) -> None:
        if not isinstance(record, dict):
            raise Refusal(1, "Mỗi hồ sơ phải là một đối tượng")
        for key in REQUIRED_RECORD:
            if key not in record:
                raise Refusal(1, f"Thiếu trường {key}")
        for key, value in record.items():
            if key in LIST_FIELDS:
                if not isinstance(value, list):
                    raise Refusal(1, f"{key} phải là danh sách")
                _check_strings(value, key)
            elif not isinstance(value, str):
                raise Refusal(1, f"{key} phải là chuỗi, nhận {type(value).__name__}")
            elif key in DATE_FIELDS and value and not DATE.fullmatch(value):
                raise Refusal(1, f"{key} phải có dạng yyyyMMddHHmmss, nhận {value!r}")
        if not record["MaHoSo"].startswith(self.madonvi + "-"):
            raise Refusal(1, f"MaHoSo {record['MaHoSo']!r} không bắt đầu bằng mã đơn vị")
        if record["TrangThaiHoSo"] not in STATUS_CODES:
            raise Refusal(1, f"TrangThaiHoSo {record['TrangThaiHoSo']!r} không hợp lệ")
        if record["KenhThucHien"] not in ("1", "2", "3"):
            raise Refusal(1, f"KenhThucHien {record['KenhThucHien']!r} không hợp lệ")
        if not record["NgayTiepNhan"]:
            raise Refusal(1, "Thiếu NgayTiepNhan")

    def _check_progress(self, item: Any) -> None:
        if not isinstance(item, dict):
            raise Refusal(1, "Mỗi tiến độ phải là một đối tượng")
        for key in REQUIRED_PROGRESS:
            if not isinstance(item.get(key), str):
                raise Refusal(1, f"Tiến độ: {key} phải là chuỗi")
        for key in PROGRESS_DATES:
            if item[key] and not DATE.fullmatch(item[key]):
                raise Refusal(1, f"Tiến độ: {key} phải có dạng yyyyMMddHHmmss")
        if item["TrangThai"] not in STATUS_CODES:
            raise Refusal(1, f"Tiến độ: TrangThai {item['TrangThai']!r} không hợp lệ")
        if item["MaHoSo"] not in self.records:
            raise Refusal(4, f"Hồ sơ {item['MaHoSo']} chưa được đồng bộ")


def _check_strings(items: list[Any], where: str) -> None:
    for item in items:
        if not isinstance(item, dict):
            raise Refusal(1, f"{where}: mỗi phần tử phải là một đối tượng")
        for key, value in item.items():
            if isinstance(value, list):
                _check_strings(value, f"{where}.{key}")
            elif not isinstance(value, str):
                raise Refusal(1, f"{where}.{key} phải là chuỗi")
