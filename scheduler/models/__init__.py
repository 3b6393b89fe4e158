"""SQLAlchemy models of the scheduler, one per module."""

from scheduler.models.scan_cursor import ScanCursor
from scheduler.models.staff_alert import StaffAlert

__all__ = ["ScanCursor", "StaffAlert"]
