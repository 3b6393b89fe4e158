"""The HTTP client against the portal double (a separate process): session reuse and renewal,
the success code's spellings, "đã tồn tại", and each fault typed as the sync needs it."""

from __future__ import annotations

import pytest

from onestop.portal import AlreadyExists, PortalInDoubt, PortalRefused, PortalUnavailable

CODE = "000.00.53.H48-261201-8000"


def sample_record(code: str = CODE, **changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "MaHoSo": code,
        "MaTTHC": "1.004359",
        "TenTTHC": "Cấp, cấp lại giấy phép khai thác thủy sản",
        "MaLinhVuc": "G09-TS",
        "TenLinhVuc": "Thủy sản",
        "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Văn Biển",
        "LoaiDoiTuong": "1",
        "MaDoiTuong": "",
        "SoDienThoai": "0912345678",
        "TrichYeuHoSo": "Cấp mới",
        "NgayTiepNhan": "20261201090000",
        "NgayHenTra": "20261209170000",
        "NgayTra": "",
        "TrangThaiHoSo": "1",
        "HinhThuc": "1",
        "DonViXuLy": "Sở Nông nghiệp và Môi trường",
        "DanhSachLePhi": [],
        "DanhSachHoSoBoSung": [],
    }
    record.update(changes)
    return record


def progress(code: str = CODE, status: str = "2") -> dict[str, str]:
    return {
        "MaHoSo": code, "NguoiXuLy": "lan", "ChucDanh": "Cán bộ tiếp nhận",
        "ThoiDiemXuLy": "20261201100000", "PhongBanXuLy": "Trung tâm", "NoiDungXuLy": "Tiếp nhận",
        "TrangThai": status, "NgayBatDau": "20261201100000",
        "NgayKetThucTheoQuyDinh": "20261209170000",
    }  # fmt: skip


def test_one_log_in_serves_many_calls_whatever_the_success_code_spelling(double):
    client = double.client()
    client.sync_dossiers([sample_record()], updating=False)
    client.send_progress([progress()])
    client.sync_dossiers([sample_record(TrangThaiHoSo="2")], updating=True)
    found = client.lookup(CODE)
    assert found["TrangThaiHoSo"] == "2" and found["TienDo"] == [progress()]
    assert client.lookup("000.00.53.H48-261201-8999") is None
    # The replies spelled success 0, "0" and "00" in turn; one log-in served all five calls.
    assert (client.logins, double.state()["logins"]) == (1, 1)


def test_an_expired_session_is_renewed_once_and_the_call_repeated(double):
    client = double.client()
    client.sync_dossiers([sample_record()], updating=False)
    double.control("expire")
    client.send_progress([progress()])
    state = double.state()
    assert client.logins == 2 and state["progress"][CODE] == [progress()]


def test_a_second_create_is_answered_already_exists(double):
    client = double.client()
    client.sync_dossiers([sample_record()], updating=False)
    with pytest.raises(AlreadyExists, match="đã tồn tại"):
        client.sync_dossiers([sample_record()], updating=False)
    assert double.state()["creates"] == {CODE: 1}


def test_the_double_refuses_what_a_lax_client_would_send(double):
    client = double.client()
    with pytest.raises(PortalRefused, match="TrangThaiHoSo phải là chuỗi"):
        client.sync_dossiers([sample_record(TrangThaiHoSo=2)], updating=False)
    with pytest.raises(PortalRefused, match="yyyyMMddHHmmss"):
        client.sync_dossiers([sample_record(NgayTiepNhan="2026-12-01 09:00")], updating=False)
    with pytest.raises(PortalRefused, match="mã đơn vị"):
        client.sync_dossiers([sample_record("000.00.53.H48.TD-261201-0001")], updating=False)
    assert double.state()["records"] == {}


def test_a_5xx_or_a_page_that_is_not_json_is_unavailable(double):
    client = double.client()
    client.lookup(CODE)  # logged in: the faults below hit the service, not the log-in
    double.faults(error_5xx=1.0)
    with pytest.raises(PortalUnavailable, match="HTTP 503"):
        client.sync_dossiers([sample_record()], updating=False)
    double.faults(error_5xx=0.0, not_json=1.0)
    with pytest.raises(PortalUnavailable, match="not JSON"):
        client.sync_dossiers([sample_record()], updating=False)
    assert double.state()["records"] == {}


def test_an_answer_that_never_comes_is_in_doubt_though_the_portal_acted(double):
    client = double.client(timeout=0.5)
    client.lookup(CODE)
    double.faults(hang_after=1.0, hang_seconds=2.0)
    with pytest.raises(PortalInDoubt):
        client.sync_dossiers([sample_record()], updating=False)
    double.faults(hang_after=0.0)
    # Only a look-up can tell: the portal holds the record.
    assert double.client().lookup(CODE)["MaHoSo"] == CODE


def test_a_slow_answer_within_the_timeout_is_an_answer(double):
    client = double.client(timeout=2.0)
    double.faults(slow=1.0, slow_seconds=0.3)
    client.sync_dossiers([sample_record()], updating=False)
    assert double.state()["creates"] == {CODE: 1}


def test_no_portal_listening_is_unavailable(double):
    client = double.client()
    stopped = double.url
    double.process.terminate()
    double.process.wait(timeout=10)
    with pytest.raises(PortalUnavailable, match="no connection"):
        client.lookup(CODE)
    assert client.base_url == stopped


def test_the_catalogue_entry_of_a_procedure(double):
    entry = double.client().procedure("1.004359")
    assert entry["TENTTHC"] == "Cấp, cấp lại giấy phép khai thác thủy sản"
    assert entry["LINHVUCTHUCHIEN"][0] == {"MALINHVUC": "G09-TS", "TENLINHVUC": "Thủy sản"}
    assert double.client().procedure("9.999999") is None
