"""SQLAlchemy models of the portal sync, one per module."""

# The dossier table our foreign keys point at.
import intake.models  # noqa: F401
from onestop.models.procedure_entry import ProcedureEntry
from onestop.models.reconciliation import Reconciliation
from onestop.models.sync_item import SyncItem, SyncKind, SyncStatus

__all__ = ["ProcedureEntry", "Reconciliation", "SyncItem", "SyncKind", "SyncStatus"]
