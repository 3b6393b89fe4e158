"""The vessel's length: exact when staff know it, else the band the caller chose on the keypad.

A keypad cannot enter "13,5 m", so the phone asks for a band whose limits are the ones the rules
turn on (docs/domain.md): 12 m (the safety certificate's minimum; mid-shore fishing) and 15 m
(offshore fishing, a monitoring device required). `vessel_band` is the one answer to "which
band is this vessel in?": the processing authority, the monitoring-device rule and the
procedure's minimum length all ask it.
"""

from __future__ import annotations

from enum import StrEnum

from intake.models import Vessel


class LengthBand(StrEnum):
    UNDER_12 = "under_12"
    FROM_12_TO_15 = "12_to_15"
    FROM_15 = "15_up"

    @property
    def bounds(self) -> tuple[float, float | None]:
        """[lower, upper) in metres; None: no upper limit."""
        return _BOUNDS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]


_BOUNDS: dict[LengthBand, tuple[float, float | None]] = {
    LengthBand.UNDER_12: (0.0, 12.0),
    LengthBand.FROM_12_TO_15: (12.0, 15.0),
    LengthBand.FROM_15: (15.0, None),
}
_LABELS = {
    LengthBand.UNDER_12: "Dưới 12 m",
    LengthBand.FROM_12_TO_15: "Từ 12 m đến dưới 15 m",
    LengthBand.FROM_15: "Từ 15 m trở lên",
}


def band_of_length(length_m: float) -> LengthBand:
    for band in LengthBand:
        low, high = band.bounds
        if low <= length_m and (high is None or length_m < high):
            return band
    raise ValueError(f"length {length_m!r} m fits no band")


def vessel_band(vessel: Vessel | None) -> LengthBand | None:
    """The vessel's band: from its exact length when staff know it, else the caller's band;
    None when neither is known."""
    if vessel is None:
        return None
    if vessel.length_m is not None:
        return band_of_length(vessel.length_m)
    if vessel.length_band:
        return LengthBand(vessel.length_band)
    return None


def meets_minimum(vessel: Vessel | None, minimum_m: float) -> bool | None:
    """True when the vessel is at least `minimum_m` long, False when it is shorter, None when
    what we know (no length, or a band across the minimum) does not say."""
    if vessel is not None and vessel.length_m is not None:
        return vessel.length_m >= minimum_m
    band = vessel_band(vessel)
    if band is None:
        return None
    low, high = band.bounds
    if low >= minimum_m:
        return True
    if high is not None and high <= minimum_m:
        return False
    return None
