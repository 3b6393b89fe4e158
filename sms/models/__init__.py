"""SQLAlchemy models of the SMS package, one per module."""

from sms.models.inbound_message import InboundMessage
from sms.models.notice import Notice, NoticeStatus
from sms.models.rate_limit import RateLimit
from sms.models.sms_preference import SmsPreference
from sms.models.survey_rating import SurveyRating

__all__ = ["InboundMessage", "Notice", "NoticeStatus", "RateLimit", "SmsPreference", "SurveyRating"]
