"""Notice templates: placeholders and links checked at start-up, worst cases fit their budget."""

from __future__ import annotations

import datetime as dt

import pytest

from plumbing.settings import SMS_TEMPLATE_KINDS, SettingsError, load_settings
from sms.encoding import Encoding
from sms.templates import check_templates, render, worst_case_values
from tests.conftest import ROOT

GOOD = (ROOT / "config.toml").read_text(encoding="utf-8")
RECEIPT = (
    'text = "{centre}: Da tiep nhan ho so {code} ({procedure_short}). Hen tra KQ {due}. '
    'Hoi dap: {hotline}"'
)


def _load_with(tmp_path, old: str, new: str):
    assert old in GOOD
    path = tmp_path / "config.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    return load_settings(path, env={"TONGDAI_SECRET_KEY": "x"})


@pytest.mark.parametrize("kind", SMS_TEMPLATE_KINDS)
def test_every_template_fits_its_limit_with_worst_case_values(base_settings, kind):
    template = base_settings.sms.templates[kind]
    measure = render(base_settings, kind, worst_case_values(base_settings)).measure
    assert measure.segments <= template.max_segments
    if template.policy == "strip":
        assert measure.encoding is Encoding.GSM7


def test_the_receipt_reads_as_domain_md_drafts_it(base_settings):
    text = render(
        base_settings,
        "receipt",
        {"code": "000.00.53.H48.TD-261201-0001", "procedure_short": "GP khai thác thủy sản",
         "due": dt.date(2026, 12, 9)},
    ).text  # fmt: skip
    assert text == (
        "TTHCC Quang Ngai: Da tiep nhan ho so 000.00.53.H48.TD-261201-0001 "
        "(GP khai thac thuy san). Hen tra KQ 09/12/2026. Hoi dap: 02553822222"
    )


def test_an_unknown_placeholder_fails_at_start_up(tmp_path):
    with pytest.raises(SettingsError, match=r"sms.templates.receipt.text: .*unknown placeholder"):
        _load_with(tmp_path, RECEIPT, 'text = "Ho so {code} cua {owner}"')


@pytest.mark.parametrize(
    "link", ["https://dichvucong.gov.vn", "www.quangngai.gov.vn", "tra cuu tai bit.ly/abc"]
)
def test_a_template_with_a_link_is_refused(tmp_path, link):
    with pytest.raises(SettingsError, match="must not contain a link"):
        _load_with(tmp_path, RECEIPT, f'text = "Ho so {{code}}: xem {link}"')


def test_a_template_too_long_for_its_budget_says_by_how_much(tmp_path):
    long_text = 'text = "{centre}: ' + "x" * 120 + ' {code} {due} {hotline}"'
    settings = _load_with(tmp_path, RECEIPT, long_text)
    values = worst_case_values(settings)
    units = render(settings, "receipt", values).measure.units
    with pytest.raises(SettingsError) as error:
        check_templates(settings)
    assert "sms.templates.receipt" in str(error.value)
    assert f"{units - 160} character(s) too long" in str(error.value)


def test_a_long_reason_is_cut_to_the_configured_length(base_settings):
    reason = "Thiếu bản sao giấy chứng nhận đăng ký tàu cá và giấy chứng nhận an toàn kỹ thuật " * 3
    text = render(base_settings, "stopped", {"code": "X-261201-0001", "reason": reason}).text
    cut = text.split("Ly do: ")[1].split(". Hoi dap")[0]
    assert len(cut) == base_settings.sms.max_reason_chars
    assert cut.endswith("...") and cut.startswith("Thieu ban sao giay chung nhan")


def test_sms_preview_command_prints_text_encoding_characters_segments():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "tongdai", "sms", "preview", "--strip", "Đã tiếp nhận hồ sơ"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Da tiep nhan ho so",
        "encoding: GSM-7",
        "characters: 18",
        "segments: 1",
    ]
