"""SQLAlchemy models of the IVR package, one per module."""

# The dossier and staff tables our foreign keys point at.
import intake.models  # noqa: F401
from ivr.models.call_log import CallLog
from ivr.models.call_order import CallOrder, CallOrderKind, CallOrderStatus
from ivr.models.callback_request import CallbackRequest
from ivr.models.ivr_call import IvrCall
from ivr.models.recording import Recording, RecordingStatus

__all__ = [
    "CallLog",
    "CallOrder",
    "CallOrderKind",
    "CallOrderStatus",
    "CallbackRequest",
    "IvrCall",
    "Recording",
    "RecordingStatus",
]
