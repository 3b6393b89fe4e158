"""What a notice call says and how it answers the keypad (pure: no database, no telephony)."""

from __future__ import annotations

import pytest

from ivr import notice_flow as flow
from ivr.notice_voice import Typed, dossier_code_groups, notice_parts
from ivr.prompts import prompt_catalogue
from ivr.speech import Prompt, Words, text_of
from sms.models import NoticeCallOutcome

CODE = "000.00.53.H48.TD-261201-0099"


def _heard(settings, parts) -> str:
    spoken = tuple(part for part in parts if isinstance(part, Prompt | Words))
    return text_of(spoken, prompt_catalogue(settings))


def test_the_code_is_read_in_groups_the_date_then_the_sequence(base_settings):
    spoken = text_of(dossier_code_groups(CODE), prompt_catalogue(base_settings))
    assert spoken == "hai sáu một hai không một, không không chín chín"


def test_an_apology_says_who_calls_the_code_both_dates_in_words_and_the_menu(base_settings):
    voice = base_settings.notice_calls.voice
    values = {"due": "2026-12-09", "new_due": "2026-12-14", "reason": "thiếu hồ sơ"}
    heard = _heard(base_settings, notice_parts(voice, "apology", CODE, values))
    assert heard.startswith("Trung tâm Phục vụ hành chính công tỉnh Quảng Ngãi gọi điện")
    assert "hai sáu một hai không một, không không chín chín" in heard
    assert "ngày chín tháng mười hai năm hai nghìn không trăm hai mươi sáu" in heard
    assert "ngày mười bốn tháng mười hai" in heard
    assert heard.endswith("Nghe lại, bấm 1. Xác nhận đã nghe, bấm 2. Gặp cán bộ, bấm 0.")


def test_typed_papers_are_only_for_a_speech_fallback(base_settings):
    voice = base_settings.notice_calls.voice
    values = {"documents": ["Bản sao căn cước", "Ảnh tàu"]}
    parts = notice_parts(voice, "supplement", CODE, values)
    assert Typed("Bản sao căn cước, Ảnh tàu") in parts
    assert "Bản sao căn cước" not in _heard(base_settings, parts)  # no recording of it exists


@pytest.mark.parametrize("kind", ["result_ready", "result_collect", "supplement", "apology",
                                  "result_post", "result_post_untracked"])  # fmt: skip
def test_every_called_kind_has_recorded_pieces_and_never_asks_for_an_id_or_money(
    base_settings, kind
):
    heard = _heard(base_settings, notice_parts(base_settings.notice_calls.voice, kind, CODE, {}))
    assert heard and "{" not in heard
    for asked in ("bấm số căn cước", "chuyển khoản", "nộp tiền", "mã OTP"):
        assert asked not in heard.lower()


NOTICE = (Prompt("notice_intro_0"),)


def test_answering_counts_at_once_and_2_confirms():
    actions, state = flow.start(NOTICE)
    assert actions[0] == flow.Settle(NoticeCallOutcome.ANSWERED)
    actions, _ = flow.step(state, "2", NOTICE, office_open=True)
    assert actions[0] == flow.Settle(NoticeCallOutcome.CONFIRMED)
    assert isinstance(actions[-1], flow.HangUp)


def test_1_repeats_and_silence_repeats_once_then_says_goodbye():
    _, state = flow.start(NOTICE)
    actions, state = flow.step(state, "1", NOTICE, office_open=True)
    assert actions == [flow.Say(NOTICE, listen=True)]
    actions, state = flow.step(state, None, NOTICE, office_open=True)
    assert actions == [flow.Say(NOTICE, listen=True)]
    actions, state = flow.step(state, "7", NOTICE, office_open=True)
    assert actions == [flow.Say((Prompt("notice_goodbye_0"),)), flow.HangUp()]


def test_0_reaches_staff_in_office_hours_and_leaves_a_call_back_request_outside():
    _, state = flow.start(NOTICE)
    actions, _ = flow.step(state, "0", NOTICE, office_open=True)
    assert actions[-1] == flow.Transfer()
    actions, _ = flow.step(state, "0", NOTICE, office_open=False)
    assert actions[0] == flow.Settle(NoticeCallOutcome.ANSWERED, callback=True)
    assert actions[-1] == flow.HangUp()
