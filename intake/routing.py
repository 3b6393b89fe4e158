"""Which authority decides a dossier: by the vessel's length band, as the province configures it
(`[procedures.<code>.authorities]` in config.toml; docs/domain.md, "Who decides").

After the 2025 reforms some provinces license their smaller vessels at commune level, so the
answer is data, not code. While the vessel's length is unknown (a phone dossier whose caller did
not say, or a procedure that does not ask), the dossier goes to the `unknown` entry, and the page
says so, so that staff confirm it once they know the length.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.models import Vessel
from intake.vessel_length import LengthBand, vessel_band
from plumbing.settings import Procedure


@dataclass(frozen=True)
class Route:
    authority: str
    band: LengthBand | None  # None: the length is not known yet

    @property
    def why(self) -> str:
        """Why this authority, for the staff page (Vietnamese)."""
        if self.band is None:
            return "chưa rõ chiều dài tàu, cần xác định lại khi biết chiều dài"
        return f"tàu {self.band.label[0].lower()}{self.band.label[1:]}"


def processing_authority(procedure: Procedure, vessel: Vessel | None) -> Route | None:
    """The authority that decides a dossier of `procedure` for `vessel`; None when the
    procedure names none (one authority for all, shown nowhere)."""
    if not procedure.authorities:
        return None
    band = vessel_band(vessel)
    return Route(procedure.authorities[band.value if band else "unknown"], band)
