"""The records the portal gets, field by field, against JSON written out by hand from the sheet
(docs/onestop.md): every value a string, dates `yyyyMMddHHmmss` in Quảng Ngãi time."""

from __future__ import annotations

import datetime as dt

from intake.lifecycle import Actor, change_status
from intake.models import Role
from intake.results import record_dispatch
from intake.statuses import Delivery
from intake.statuses import DossierStatus as S
from onestop.models import ProcedureEntry
from onestop.records import dossier_record, load_facts, progress_record
from tests.factories import create_dossier, create_staff_user

ICT = dt.timezone(dt.timedelta(hours=7))
CENTRE = "Trung tâm Phục vụ hành chính công tỉnh Quảng Ngãi"
LICENCE = "Cấp, cấp lại giấy phép khai thác thủy sản"


def _catalogue(session, now):
    session.add(
        ProcedureEntry(
            national_code="1.004359",
            name="Cấp, cấp lại giấy phép khai thác thủy sản (cấp tỉnh)",
            sector_code="G09-TS",
            sector_name="Thủy sản",
            agency_name="Sở Nông nghiệp và Môi trường tỉnh Quảng Ngãi",
            fetched_at=now,
        )
    )
    session.flush()


def _record(session, runtime, dossier):
    return dossier_record(load_facts(session, dossier, runtime.settings), runtime.settings)


def test_a_dossier_received_just_after_local_midnight_with_post_delivery(session, runtime, clock):
    # 23:30 UTC on 30/11 is 06:30 on Tuesday 01/12 in Quảng Ngãi: the local date, not UTC's.
    clock.set(dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC))
    _catalogue(session, clock.now())
    dossier = create_dossier(
        session, runtime, owner_name="Nguyễn Văn Biển", citizen_id="051080001234", vessel="90617"
    )

    assert _record(session, runtime, dossier) == {
        "MaHoSo": "000.00.53.H48-261201-8000",
        "MaTTHC": "1.004359",
        "TenTTHC": "Cấp, cấp lại giấy phép khai thác thủy sản (cấp tỉnh)",
        "MaLinhVuc": "G09-TS",
        "TenLinhVuc": "Thủy sản",
        "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Văn Biển",
        "LoaiDoiTuong": "1",
        "MaDoiTuong": "",
        "SoGiayToChuHoSo": "051080001234",
        "SoDienThoai": "0912345678",
        "Email": "",
        "Fax": "",
        "TrichYeuHoSo": f"{LICENCE}, Cấp mới, tàu QNg-90617-TS, nộp qua tổng đài điện thoại",
        "NgayNopHoSo": "20261201063000",
        "NgayTiepNhan": "20261201063000",
        # 6 working days counted from Wednesday: due Wednesday 09/12, by closing time.
        "NgayHenTra": "20261209170000",
        "NgayTra": "",
        "NgayKetThucXuLy": "",
        "NgayTuChoi": "",
        "TrangThaiHoSo": "1",
        "HinhThuc": "1",
        "DonViXuLy": "Sở Nông nghiệp và Môi trường tỉnh Quảng Ngãi",
        "ThongTinKhac": "",
        "GhiChu": "",
        "TaiLieuNop": [],
        "DanhSachLePhi": [
            {
                "TenPhiLePhi": f"Lệ phí {LICENCE.lower()} (cấp mới)",
                "MaPhiLePhi": "",
                "HinhThucThu": "",
                "Gia": "40000",
                "LoaiPhiLePhi": "1",
            }
        ],
        "DanhSachHoSoBoSung": [],
        "DanhSachGiayToKetQua": [],
    }


def test_a_supplement_round_carries_the_due_date_before_and_after_the_wait(session, runtime, clock):
    create_staff_user(session, "lan", role=Role.OPERATOR)
    dossier = create_dossier(session, runtime, status=S.ACCEPTED, delivery=Delivery.COLLECT)
    staff = Actor.staff("lan", Role.OPERATOR)
    clock.set(dt.datetime(2026, 12, 2, 10, 0, tzinfo=ICT))
    change_status(session, dossier, S.SUPPLEMENT_REQUESTED, actor=staff, now=clock.now(),
                  calendar=runtime.calendar(), reason="ảnh chụp mờ",
                  details={"documents": ["Bản sao căn cước"]})  # fmt: skip
    clock.set(dt.datetime(2026, 12, 4, 10, 0, tzinfo=ICT))
    change_status(session, dossier, S.IN_PROCESS, actor=staff, now=clock.now(),
                  calendar=runtime.calendar())  # fmt: skip

    record = _record(session, runtime, dossier)
    # Two working days of waiting (Thursday 3, Friday 4) move the due date 09/12 -> 11/12.
    assert record["DanhSachHoSoBoSung"] == [
        {
            "HoSoBoSungId": "000.00.53.H48-261201-8000-BS1",
            "NguoiYeuCauBoSung": "lan",
            "NoiDungBoSung": "Bản sao căn cước; ảnh chụp mờ",
            "NgayBoSung": "20261202100000",
            "NguoiTiepNhanBoSung": "lan",
            "ThongTinTiepNhan": "Công dân đã bổ sung hồ sơ",
            "NgayTiepNhanBoSung": "20261204100000",
            "TrangThaiBoSung": "1",
            "DanhSachGiayToBoSung": [{"TenGiayTo": "Bản sao căn cước"}],
            "DanhSachLePhiBoSung": [],
            "NgayHenTraTruoc": "20261209170000",
            "NgayHenTraMoi": "20261211170000",
        }
    ]
    assert (record["NgayHenTra"], record["TrangThaiHoSo"], record["HinhThuc"]) == (
        "20261211170000",
        "4",
        "0",
    )
    # Without the portal's catalogue yet: our own procedure name, no sector, the centre.
    assert (record["TenTTHC"], record["MaLinhVuc"], record["DonViXuLy"]) == (LICENCE, "", CENTRE)


def test_a_refusal_and_its_progress_record(session, runtime, clock):
    dossier = create_dossier(session, runtime)
    staff = Actor.staff("lan", Role.OPERATOR)
    clock.set(dt.datetime(2026, 12, 1, 16, 45, 30, tzinfo=ICT))
    event = change_status(session, dossier, S.REFUSED, actor=staff, now=clock.now(),
                          calendar=runtime.calendar(), reason="tàu dưới 6 mét")  # fmt: skip

    record = _record(session, runtime, dossier)
    assert (record["TrangThaiHoSo"], record["NgayTuChoi"]) == ("3", "20261201164530")
    # lan has no account in this test: a staff member of unknown role is "Cán bộ".
    assert progress_record(dossier, event, {}, runtime.settings) == {
        "MaHoSo": "000.00.53.H48-261201-8000",
        "NguoiXuLy": "lan",
        "ChucDanh": "Cán bộ",
        "PhongBanXuLy": CENTRE,
        "ThoiDiemXuLy": "20261201164530",
        "NoiDungXuLy": "Không tiếp nhận. Lý do: tàu dưới 6 mét",
        "TrangThai": "3",
        "NgayBatDau": "20261201164530",
        "NgayKetThucTheoQuyDinh": "20261209170000",
    }


def test_a_dispatch_by_post_and_the_return(session, runtime, clock):
    dossier = create_dossier(session, runtime, status=S.RESULT_READY)
    supervisor = Actor.staff("hoa", Role.SUPERVISOR)
    clock.set(dt.datetime(2026, 12, 7, 8, 5, tzinfo=ICT))
    dispatched = record_dispatch(session, dossier, tracking="ee123456789vn", actor=supervisor,
                                 now=clock.now())  # fmt: skip
    clock.set(dt.datetime(2026, 12, 8, 14, 0, tzinfo=ICT))
    change_status(session, dossier, S.RETURNED, actor=supervisor, now=clock.now(),
                  calendar=runtime.calendar())  # fmt: skip

    assert progress_record(dossier, dispatched, {"hoa": Role.SUPERVISOR}, runtime.settings) == {
        "MaHoSo": "000.00.53.H48-261201-8000",
        "NguoiXuLy": "hoa",
        "ChucDanh": "Lãnh đạo",
        "PhongBanXuLy": CENTRE,
        "ThoiDiemXuLy": "20261207080500",
        "NoiDungXuLy": "Gửi kết quả qua bưu chính, mã bưu gửi EE123456789VN",
        "TrangThai": "9",
        "NgayBatDau": "20261207080500",
        "NgayKetThucTheoQuyDinh": "20261209170000",
    }
    record = _record(session, runtime, dossier)
    # The result was ready when the factory moved it there (09:00 on 01/12), returned on 08/12.
    assert (record["TrangThaiHoSo"], record["NgayKetThucXuLy"], record["NgayTra"]) == (
        "10",
        "20261201090000",
        "20261208140000",
    )
