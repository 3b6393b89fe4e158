"""A dropped call loses nothing: hang up after any step, call back, continue where you were."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.models import Dossier
from intake.statuses import DossierStatus

# The licence application as units of answers; a unit is saved only when it is complete
# (a vessel number typed but not yet confirmed is asked again), except a recording: saved as soon
# as it is made, before the offer to hear it back (SAVED_AFTER: the step that saves it).
UNITS = [
    ("procedure", [("press", "1")], "Giấy phép khai thác thủy sản bấm 1"),
    ("variant", [("press", "1")], "Cấp mới bấm 1"),
    ("vessel", [("press", "90617#"), ("press", "1")], "5 số đăng ký tàu"),
    ("length_band", [("press", "2")], "Tàu dưới 12 mét"),
    ("citizen_id", [("press", "012345678901#"), ("press", "1")], "12 số căn cước"),
    ("date_of_birth", [("press", "05091975#"), ("press", "1")], "năm sinh chủ tàu"),
    ("owner_name", [("speak", 4), ("press", "3")], "họ tên chủ tàu"),
    ("address", [("speak", 5), ("press", "3")], "địa chỉ chủ tàu"),
    ("delivery", [("press", "1")], "qua bưu điện bấm 1"),
    ("phone", [("press", "1")], "số đang gọi"),
    ("summary", [("press", "1")], "Gửi hồ sơ bấm 1"),
]
SAVED_AFTER = {"owner_name": 0, "address": 0}
# Every step but the last, which submits the dossier and leaves nothing to resume.
STEPS = [
    (unit, index, step)
    for unit, (_, steps, _) in enumerate(UNITS)
    for index, step in enumerate(steps)
][:-1]


def _do(caller, step):
    kind, value = step
    getattr(caller, kind)(value)


@pytest.mark.parametrize("hang_up_after", range(len(STEPS)), ids=lambda n: f"after-step-{n}")
def test_hang_up_after_any_step_then_resume_without_repeating(
    new_caller, session, clock, hang_up_after
):
    first = new_caller()
    first.dial_in()
    for step in STEPS[: hang_up_after + 1]:
        _do(first, step[2])
    first.hang_up()
    unit, index, _ = STEPS[hang_up_after]
    name, steps, _ = UNITS[unit]
    completed_units = unit + 1 if index >= SAVED_AFTER.get(name, len(steps) - 1) else unit
    assert not first.hung_up  # the caller dropped, the IVR did not end the call

    clock.advance(dt.timedelta(hours=2))
    second = new_caller()
    second.dial_in()
    heard = [second.heard()]
    if completed_units >= 1:
        assert "hồ sơ đang khai dở" in second.heard()
        second.press("1")
        heard.append(second.heard())
    for _, steps, _ in UNITS[completed_units:]:
        for step in steps:
            _do(second, step)
            heard.append(second.heard())
    everything = " ".join(heard)
    for name, _, question in UNITS[1:completed_units]:
        assert question not in everything, f"{name} was asked again"
    assert "Đã nhận hồ sơ" in second.heard()
    second.silence()
    assert second.hung_up
    dossiers = session.scalars(select(Dossier).where(Dossier.status != DossierStatus.DRAFT)).all()
    assert len(dossiers) == 1
    assert dossiers[0].form["citizen_id"] == "012345678901"
    assert dossiers[0].form["date_of_birth"] == "1975-09-05"


def test_an_old_draft_is_not_offered_after_the_resume_window(new_caller, clock):
    first = new_caller()
    first.dial_in()
    first.press("1")
    first.press("1")
    first.hang_up()
    clock.advance(dt.timedelta(hours=49))
    second = new_caller()
    second.dial_in()
    assert "hồ sơ đang khai dở" not in second.heard()


def test_starting_again_discards_the_old_draft(new_caller, session):
    first = new_caller()
    first.dial_in()
    first.press("1")
    first.press("2")
    first.hang_up()
    second = new_caller()
    second.dial_in()
    second.press("2")
    assert "Tra hồ sơ bấm 3" in second.heard()
    second.hang_up()
    third = new_caller()
    third.dial_in()
    assert "hồ sơ đang khai dở" not in third.heard()
    drafts = session.scalars(select(Dossier)).all()
    assert len(drafts) == 1 and drafts[0].discarded_at is not None
