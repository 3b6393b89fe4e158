"""SQLAlchemy models of the domain, one per module; importing this package registers them all."""

from intake.models.apology_proposal import ApologyProposal, ProposalStatus
from intake.models.applicant import Applicant
from intake.models.audit_event import AuditEvent
from intake.models.calendar_day import CalendarDay, CalendarDayKind
from intake.models.dossier import Dossier
from intake.models.dossier_code_counter import DossierCodeCounter
from intake.models.dossier_event import DossierEvent
from intake.models.inspection_appointment import AppointmentStatus, InspectionAppointment
from intake.models.login_throttle import LoginThrottle
from intake.models.staff_session import StaffSession
from intake.models.staff_user import Role, StaffUser
from intake.models.status_lookup import DossierLookupAttempt, DossierLookupBlock
from intake.models.vessel import Vessel

__all__ = [
    "AppointmentStatus",
    "ApologyProposal",
    "Applicant",
    "AuditEvent",
    "CalendarDay",
    "CalendarDayKind",
    "Dossier",
    "DossierCodeCounter",
    "DossierEvent",
    "DossierLookupAttempt",
    "DossierLookupBlock",
    "InspectionAppointment",
    "LoginThrottle",
    "ProposalStatus",
    "Role",
    "StaffSession",
    "StaffUser",
    "Vessel",
]
