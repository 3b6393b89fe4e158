"""What the call says about papers and fees, and that the SMS says the same papers."""

from __future__ import annotations

from ivr.flow import NODES
from ivr.prompts import prompt_catalogue
from ivr.speech import text_of
from sms.encoding import strip_diacritics
from sms.templates import render

SUBMITTED = {
    "spoken_code": "2612010001",
    "due": "2026-12-09",
    "hotline": "02553822222",
    "answers": {"procedure": "fishing_licence", "variant": "new"},
}
SUMMARY = {
    "fee_vnd": 0,
    "answers": {"procedure": "vessel_safety", "variant": "new", "vessel": "QNg:90617",
                "delivery": "post"},
}  # fmt: skip


def test_the_call_names_the_papers_to_hand_in_after_the_due_date(base_settings):
    said = text_of(NODES["submitted"].prompt(SUBMITTED), prompt_catalogue(base_settings))
    assert (
        "Giấy tờ nộp khi nhận kết quả hoặc gửi bưu điện: bản chụp giấy "
        "đăng ký tàu, giấy an toàn kỹ thuật, bằng thuyền trưởng, máy trưởng "
        "Ông bà sẽ nhận tin nhắn xác nhận."
    ) in said


def test_the_sms_names_the_same_papers_as_the_call(base_settings):
    for code, procedure in base_settings.procedures.items():
        for name, variant in procedure.variants.items():
            spoken = prompt_catalogue(base_settings)[f"papers_{code}_{name}"]
            values = {"code": "X-261201-0001", "papers": variant.papers}
            sms = render(base_settings, "result_ready", values).text
            assert f"mang CCCD, {strip_diacritics(spoken)}. Hoi dap" in sms, (code, name)


def test_the_safety_certificate_says_the_inspection_price_is_paid_at_the_inspection(
    base_settings,
):
    said = text_of(NODES["summary"].prompt(SUMMARY), prompt_catalogue(base_settings))
    assert (
        "Không thu lệ phí khi nộp. Ông bà trả giá kiểm tra an toàn kỹ thuật cho đăng kiểm khi tàu "
        "được kiểm tra, tùy cỡ tàu và công suất máy."
    ) in said
    assert "Không thu lệ phí khi nộp. Gửi hồ sơ" not in said
