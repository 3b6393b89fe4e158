"""Who decides a dossier: the configured authority of the vessel's length band (exact length
first, else the caller's band; "unknown" while neither is known)."""

from __future__ import annotations

import pytest

from intake.models import Vessel
from intake.routing import processing_authority
from intake.vessel_length import LengthBand
from plumbing.settings import AUTHORITY_KEYS, Procedure

COMMUNE = "Ủy ban nhân dân xã, phường, đặc khu nơi tàu đăng ký"
PROVINCE = "Chi cục Thủy sản tỉnh Quảng Ngãi"


@pytest.mark.parametrize(
    ("length_m", "band", "authority", "why"),
    [
        (11.9, None, COMMUNE, "tàu dưới 12 m"),  # the exact length wins
        (12.0, "under_12", PROVINCE, "tàu từ 12 m đến dưới 15 m"),  # ... over the caller's band
        (None, "under_12", COMMUNE, "tàu dưới 12 m"),
        (None, "15_up", PROVINCE, "tàu từ 15 m trở lên"),
        (None, None, PROVINCE, "chưa rõ chiều dài tàu, cần xác định lại khi biết chiều dài"),
    ],
)
def test_the_licence_goes_to_the_authority_of_the_vessels_band(
    base_settings, length_m, band, authority, why
):
    vessel = Vessel(province_code="QNg", digits="90617", length_m=length_m, length_band=band)
    route = processing_authority(base_settings.procedures["fishing_licence"], vessel)
    assert (route.authority, route.why) == (authority, why)


def test_a_dossier_without_a_vessel_goes_to_the_unknown_entry(base_settings):
    route = processing_authority(base_settings.procedures["fishing_licence"], None)
    assert route.authority == PROVINCE and route.band is None


def test_the_settings_name_exactly_the_bands_intake_knows():
    assert AUTHORITY_KEYS == {band.value for band in LengthBand} | {"unknown"}


def test_a_province_that_forgets_a_band_is_refused(base_settings):
    procedure = base_settings.procedures["fishing_licence"].model_dump()
    del procedure["authorities"]["15_up"]
    with pytest.raises(ValueError, match="authorities needs exactly"):
        Procedure.model_validate(procedure)
