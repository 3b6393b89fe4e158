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
# 05/09/1975, confirmed; name and address (Enter records); by post; this phone; send.
WHOLE_CALL = "1\n1\n90617#\n1\n2\n012345678901#\n1\n05091975#\n1\n\n\n1\n1\n1\n"


def _call(tmp_path, keys: str, caller: str = "0912345678"):
    env = {"PATH": os.environ["PATH"], "TONGDAI_DATA_DIR": str(tmp_path),
           "TONGDAI_LOG_LEVEL": "WARNING"}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "tongdai", "call", "--from", caller],
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
    assert "Tàu dài dưới 12 mét, bấm 1" in result.stdout
    assert "Ngày sinh là ngày năm tháng chín năm một nghìn chín trăm bảy mươi lăm" in result.stdout
    assert "Hồ sơ đã được tiếp nhận" in result.stdout
    assert (
        "Hồ sơ còn thiếu số giấy chứng nhận an toàn kỹ thuật, nghề khai thác chính" in result.stdout
    )
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
    assert "hồ sơ đang khai dở" in second.stdout
    assert "12 số căn cước công dân" in second.stdout
