"""SQLAlchemy models of the scheduler, one per module."""

# The dossier and staff tables our foreign keys point at.
import intake.models  # noqa: F401
from scheduler.models.scan_cursor import ScanCursor
from scheduler.models.staff_alert import StaffAlert

__all__ = ["ScanCursor", "StaffAlert"]
