"""`tongdai call`: the flow in a terminal, as staff use it for training."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from intake.models import Dossier
from intake.statuses import DossierStatus
from tests.conftest import ROOT

# Licence, new; vessel 90617, confirmed; 12 to under 15 m; citizen id, confirmed; born
# 05/09/1975, confirmed; name and address (Enter records a generated clip, "3" goes on after it);
# by post; this phone; send; the last Enter lets the end go by.
WHOLE_CALL = "1\n1\n90617#\n1\n2\n012345678901#\n1\n05091975#\n1\n\n3\n\n3\n1\n1\n1\n\n"


def _call(tmp_path, keys: str, caller: str = "0912345678", *options: str):
    env = {"PATH": os.environ["PATH"], "TONGDAI_DATA_DIR": str(tmp_path),
           "TONGDAI_LOG_LEVEL": "WARNING"}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "tongdai", "call", "--from", caller, *options],
                          input=keys, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def _dossiers(tmp_path) -> list[Dossier]:
    engine = create_engine(f"sqlite:///{tmp_path / 'tongdai.sqlite3'}")
    with Session(engine) as session:
        rows = list(session.scalars(select(Dossier)))
    engine.dispose()
    return rows


def test_a_whole_call_in_the_terminal_files_a_dossier_and_shows_the_sms(tmp_path):
    result = _call(tmp_path, WHOLE_CALL)
    assert result.returncode == 0, result.stderr
    assert "Số đăng ký tàu là Quảng Ngãi chín không sáu một bảy" in result.stdout
    assert "Tàu dưới 12 mét bấm 1" in result.stdout
    assert "Ngày sinh là ngày năm tháng chín năm một nghìn chín trăm bảy mươi lăm" in result.stdout
    assert "Đã nhận hồ sơ" in result.stdout
    assert "Hồ sơ còn thiếu số giấy an toàn kỹ thuật, nghề khai thác chính" in result.stdout
    [dossier] = _dossiers(tmp_path)
    assert dossier.status is DossierStatus.RECEIVED
    assert dossier.form["date_of_birth"] == "1975-09-05" and dossier.due_date is None
    assert (
        f"[SMS TTHCC QNGAI -> +84912345678] TTHCC Quang Ngai: Da tiep nhan ho so {dossier.code}"
        in (result.stdout)
    )
    recordings = list((tmp_path / "recordings").glob("console-*.wav"))
    assert len(recordings) == 2


def test_ctrl_d_mid_call_keeps_the_draft_for_the_next_call(tmp_path):
    first = _call(tmp_path, "1\n2\n3\n90617#\n1\n2\n")  # hangs up at the citizen id question
    assert first.returncode == 0, first.stderr
    [draft] = _dossiers(tmp_path)
    assert draft.status is DossierStatus.DRAFT and draft.form["ivr"]["vessel"] == "QNg:90617"
    second = _call(tmp_path, "1\n")
    assert (
        "hồ sơ đang khai dở: cấp lại giấy phép khai thác thủy sản cho tàu số Quảng Ngãi "
        "chín không sáu một bảy tê ét." in second.stdout
    )
    assert "12 số căn cước chủ tàu" in second.stdout


def test_the_new_paths_in_the_terminal(tmp_path):
    """0# to a person nobody takes and back; a recording heard back; one answer changed at the
    summary; the code heard again with *."""
    keys = [
        "1", "1", "90617#", "1", "2",
        "0#", "k", "2",  # at the citizen id: a person, nobody answers, back to the question
        "012345678901#", "1", "05091975#", "1",
        "", "1", "3",  # the name recorded, heard back, go on
        "", "3", "1", "1",
        "2", "4", "098765432109#", "1",  # at the summary: change the citizen id
        "1", "*", "",  # send; hear the code again; silence
    ]  # fmt: skip
    # A Tuesday at 10:00: the operator desk is staffed.
    result = _call(tmp_path, "\n".join(keys) + "\n", "0912345678", "--at", "2026-12-01 10:00")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Tổng đài viên chưa nghe máy." in out
    assert out.count("Ông bà bấm 12 số căn cước") == 3  # asked, back after the transfer, changed
    assert "(đoạn ghi âm của ông bà: " in out and "Ông bà vừa nói:" in out
    assert "Sửa thông tin nào? Cấp mới hay cấp lại, bấm 1." in out
    assert "Đường dây nóng: không hai năm năm, ba tám hai, hai hai hai hai" in out
    assert out.count("Mã hồ sơ là hai sáu một hai không một, tám không không không") == 1  # on *
    [dossier] = _dossiers(tmp_path)
    assert dossier.status is DossierStatus.RECEIVED
    assert dossier.form["citizen_id"] == "098765432109"


def test_a_status_answer_returns_to_the_menu_and_a_second_application_is_not_filed(tmp_path):
    first = _call(tmp_path, WHOLE_CALL)
    assert first.returncode == 0, first.stderr
    # The status of my latest dossier (#), then the same application again from the menu.
    again = _call(tmp_path, "3\n#\n" + WHOLE_CALL)
    assert again.returncode == 0, again.stderr
    after_status = again.stdout.split("hiện mới được tiếp nhận", 1)[1]
    assert "Tra hồ sơ bấm 3" in after_status  # the main menu again
    assert "Tàu này đã có một hồ sơ cùng thủ tục đang được giải quyết" in after_status
    assert [d.status for d in _dossiers(tmp_path)].count(DossierStatus.RECEIVED) == 1
