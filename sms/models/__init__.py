"""SQLAlchemy models of the SMS package, one per module."""

# The dossier and staff tables our foreign keys point at.
import intake.models  # noqa: F401
from sms.models.inbound_message import InboundMessage
from sms.models.notice import Notice, NoticeStatus
from sms.models.notice_call import NoticeCall, NoticeCallOutcome, NoticeCallStatus
from sms.models.partial_inbound import PartialInbound
from sms.models.rate_limit import RateLimit
from sms.models.sms_preference import SmsPreference
from sms.models.survey_rating import SurveyRating

__all__ = [
    "InboundMessage",
    "Notice",
    "NoticeCall",
    "NoticeCallOutcome",
    "NoticeCallStatus",
    "NoticeStatus",
    "PartialInbound",
    "RateLimit",
    "SmsPreference",
    "SurveyRating",
]
