"""Drives the pure flow engine for one call against the database.

Every front end (Twilio webhooks, Asterisk FastAGI, the terminal) calls `CallService.handle`
with an event and gets back only telephony actions. In between, this module applies the engine's
effects at once (each accepted answer is saved to the draft before the next prompt is played, so
a hang-up at any point loses nothing) and answers the engine's questions from the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from intake.codes import SequenceExhausted, spoken_part
from intake.completeness import missing_items
from intake.dossier_commands import apply_answers, create_applicant
from intake.dossier_queries import (
    SPOKEN_CODE_LENGTH,
    find_dossier_by_code,
    latest_dossier_of_phone,
    latest_dossier_of_vessel_digits,
    open_dossier_like,
)
from intake.dossiers import start_draft, submit
from intake.errors import InvalidInput
from intake.lifecycle import Actor
from intake.models import Dossier, Vessel
from intake.office_hours import office_open
from intake.phone import LineKind, mask_phone, national_display, parse_phone
from intake.runtime import Runtime
from intake.status_lookup import (
    LookupLimits,
    check_last_digits,
    is_own_phone,
    record_unknown,
)
from intake.statuses import Channel, DossierStatus
from ivr import engine
from ivr.engine import Ask, Discard, Event, Failed, Outcome, Save
from ivr.models import CallbackRequest, IvrCall, Recording
from ivr.speech import Playback

log = logging.getLogger(__name__)
IVR = Actor.system("ivr")
# Answers that are recordings: the value is our Recording id.
RECORDED_ANSWERS = frozenset(
    {"owner_name_recording", "address_recording", "vessel_province_recording", "operator_message"}
)


def caller_number(raw: str | None) -> tuple[str | None, LineKind | None]:
    """The caller id as E.164 and line kind; (None, None) when hidden or not Vietnamese."""
    if not raw or raw.lower() in ("anonymous", "restricted", "unknown", "private"):
        return None, None
    try:
        number = parse_phone(raw)
    except InvalidInput:
        return None, None
    return number.e164, number.kind


def _same_caller(call: IvrCall, caller: str | None, caller_raw: str | None) -> bool:
    """The caller of `call` again: the same number, or the same hidden/unusable caller id."""
    if call.caller is not None or caller is not None:
        return call.caller == caller
    return call.caller_raw == (caller_raw or "")[:64]


# The locking read of a step, composed once: building the statement and its criteria on every
# request cost more CPU than executing it (bench/webhook_profile.py).
_CALL_WITH_DRAFT = (
    select(IvrCall, Dossier)
    .outerjoin(Dossier, Dossier.id == IvrCall.dossier_id)
    .with_for_update(of=IvrCall)
)
_LOCK_BY_ID = _CALL_WITH_DRAFT.where(IvrCall.id == bindparam("call_id"))
_LOCK_BY_PROVIDER_ID = _CALL_WITH_DRAFT.where(
    IvrCall.provider == bindparam("provider"),
    IvrCall.provider_call_id == bindparam("provider_call_id"),
)


def _locked(session: Session, statement: Select, params: dict[str, Any]) -> IvrCall | None:
    row = session.execute(statement, params).first()
    if row is None:
        return None
    call, draft = row
    _keep_for_step(session, draft)
    return call


def _keep_for_step(session: Session, instance: object) -> None:
    """The identity map holds unchanged objects weakly: keep this one alive until the session
    ends, so a `session.get` for it later in the same step finds it without another query."""
    session.info.setdefault("keep_alive", []).append(instance)


class CallService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings

    # ---- calls -------------------------------------------------------------------------------

    def open_call(
        self, session: Session, provider: str, provider_call_id: str, caller_raw: str | None
    ) -> tuple[IvrCall, bool]:
        """The call row for this provider id, created on first sight. Returns (call, created).

        A known id from a different caller is not that call: whoever sends it gets a new call
        (under a fresh id), never the other caller's answers. The provider's ids are not secret
        (a FastAGI peer names its own `agi_uniqueid`).
        """
        caller, _ = caller_number(caller_raw)
        call = session.scalar(
            select(IvrCall).where(
                IvrCall.provider == provider, IvrCall.provider_call_id == provider_call_id
            )
        )
        if call is not None:
            if _same_caller(call, caller, caller_raw):
                return call, False
            log.warning(
                "call %d: %s id reused by another caller (%s); starting a new call",
                call.id,
                provider,
                mask_phone(caller or "hidden"),
            )
            provider_call_id = f"reused-{uuid.uuid4().hex}"
        now = self.runtime.clock.now()
        call = IvrCall(
            provider=provider,
            provider_call_id=provider_call_id,
            caller=caller,
            caller_raw=(caller_raw or "")[:64],
            started_at=now,
            state=engine.new_state(),
        )
        session.add(call)
        session.flush()
        log.info("call %d from %s via %s", call.id, mask_phone(caller or "hidden"), provider)
        return call, True

    def lock_call(self, session: Session, call_id: int) -> IvrCall | None:
        """The call row `call_id`, locked for this transaction (two deliveries of one step must
        not both advance the call), loaded together with its draft: most steps save an answer
        on the draft, and one round trip is cheaper than two."""
        return _locked(session, _LOCK_BY_ID, {"call_id": call_id})

    def lock_provider_call(
        self, session: Session, provider: str, provider_call_id: str
    ) -> IvrCall | None:
        """`lock_call` by the provider's id of the call (Twilio's CallSid)."""
        return _locked(
            session,
            _LOCK_BY_PROVIDER_ID,
            {"provider": provider, "provider_call_id": provider_call_id},
        )

    def context(self, call: IvrCall) -> engine.Context:
        ivr = self.settings.ivr
        _, kind = caller_number(call.caller)
        mobile = call.caller if kind is LineKind.MOBILE else None
        national = national_display(mobile) if mobile else None
        fees = {
            f"{code}:{name}": variant.fee_vnd
            for code, procedure in self.settings.procedures.items()
            for name, variant in procedure.variants.items()
        }
        return engine.Context(
            home_province=self.settings.centre.home_province,
            caller_national=national,
            max_failures=ivr.max_failures,
            timeout=ivr.input_timeout_seconds,
            record_max_seconds=ivr.record_max_seconds,
            operator_number=ivr.operator_number,
            fees=fees,
            hotline=national_display(self.settings.centre.hotline),
            phone_questions={
                code: tuple(procedure.phone_questions)
                for code, procedure in self.settings.procedures.items()
            },
            today=self.runtime.clock.now().astimezone(self.settings.zone).date(),
        )

    def handle(self, session: Session, call: IvrCall, event: Event) -> list[engine.Action]:
        """Advance the call; apply effects; return the telephony actions to perform."""
        context = self.context(call)
        state: dict[str, Any] = call.state or engine.new_state()
        out: list[engine.Action] = []
        for _ in range(20):  # questions chain (resume check -> main menu); never loop forever
            actions, state = engine.step(state, event, context)
            question = None
            for action in actions:
                if isinstance(action, Save):
                    self._save(session, call, action.key, action.value)
                elif isinstance(action, Discard):
                    self._discard(session, call, action.offered_draft)
                elif isinstance(action, Failed):
                    self._callback(session, call, f"failures:{action.node}", None)
                elif isinstance(action, Ask):
                    question = action
                else:
                    out.append(self._locate_playbacks(session, call, action))
            if question is None:
                break
            event = self._answer(session, call, question, state)
        call.state = state
        call.node = state["node"]
        # No flush here: the front end still sets the step number and answer on this row, and
        # the commit writes it all in one UPDATE.
        return out

    def ended(
        self, session: Session, call: IvrCall, reason: str, duration: int | None = None
    ) -> None:
        """The line is down. Whatever was answered is already saved on the draft."""
        if call.ended_at is not None:
            return
        call.ended_at = self.runtime.clock.now()
        call.end_reason = reason[:32]
        call.duration_seconds = duration
        if call.outcome is None:
            call.outcome = "abandoned" if call.dossier_id else "hangup"
        log.info("call %d ended (%s) at node %s", call.id, reason, call.node)

    def add_recording(
        self,
        session: Session,
        call: IvrCall,
        *,
        provider_ref: str,
        provider_url: str = "",
        seconds: float,
        path: str | None = None,
    ) -> Recording:
        """Store a recording's metadata at once; Twilio's audio is fetched later by a job."""
        from ivr.models import RecordingStatus

        purpose = self._recording_purpose(call)
        recording = Recording(
            call_id=call.id,
            dossier_id=call.dossier_id,
            purpose=purpose,
            provider=call.provider,
            provider_ref=provider_ref,
            provider_url=provider_url,
            seconds=seconds,
            path=path,
            created_at=self.runtime.clock.now(),
            status=RecordingStatus.STORED if path else RecordingStatus.PENDING_FETCH,
        )
        session.add(recording)
        session.flush()
        _keep_for_step(session, recording)  # the step saves it as an answer next
        return recording

    def _locate_playbacks(self, session: Session, call: IvrCall, action: engine.Action):
        """Fill in where each recording played back to the caller is, for this call's provider:
        Twilio's recording URL, Asterisk's own file (no extension), or our copy for the console.
        Only the caller's own recordings of this call are played."""
        parts = getattr(action, "parts", ())
        if not any(isinstance(part, Playback) for part in parts):
            return action
        located = []
        for part in parts:
            if isinstance(part, Playback):
                recording = session.get(Recording, int(part.recording or 0))
                if recording is None or recording.call_id != call.id:
                    continue
                if call.provider == "twilio":
                    location = recording.provider_url
                elif call.provider == "asterisk":
                    location = str(PurePosixPath(recording.provider_ref).with_suffix(""))
                else:
                    location = str(self.settings.data_dir / (recording.path or ""))
                part = dataclasses.replace(part, location=location)
            located.append(part)
        return dataclasses.replace(action, parts=tuple(located))

    def _recording_purpose(self, call: IvrCall) -> str:
        from ivr.flow import NODES, Record

        node = NODES.get(call.node)
        return node.answer if isinstance(node, Record) else "unknown"

    # ---- effects -----------------------------------------------------------------------------

    def _draft(self, session: Session, call: IvrCall) -> Dossier | None:
        return session.get(Dossier, call.dossier_id) if call.dossier_id else None

    def _save(self, session: Session, call: IvrCall, key: str, value: Any) -> None:
        now = self.runtime.clock.now()
        draft = self._draft(session, call)
        if key == "procedure":
            if draft is None or draft.status is not DossierStatus.DRAFT:
                draft = start_draft(
                    session,
                    procedure=value,
                    channel=Channel.PHONE,
                    settings=self.settings,
                    caller_phone=call.caller,
                    now=now,
                )
                call.dossier_id = draft.id
        if draft is None:
            log.warning("call %d: answer %s before a procedure was chosen", call.id, key)
            return
        if key in RECORDED_ANSWERS:
            recording = session.get(Recording, int(value))
            if recording is not None:
                recording.dossier_id = draft.id
        apply_answers(session, draft, {key: value}, now=now, keyed=True)

    def _discard(self, session: Session, call: IvrCall, offered: int | None) -> None:
        draft = session.get(Dossier, offered) if offered else self._draft(session, call)
        if (
            draft is not None
            and draft.caller_phone == call.caller
            and draft.status is DossierStatus.DRAFT
        ):
            draft.discarded_at = self.runtime.clock.now()
        call.dossier_id = None

    def _callback(
        self, session: Session, call: IvrCall, reason: str, recording: str | None
    ) -> None:
        session.add(
            CallbackRequest(
                call_id=call.id,
                dossier_id=call.dossier_id,
                phone=call.caller,
                reason=reason,
                recording_id=int(recording) if recording else None,
                created_at=self.runtime.clock.now(),
            )
        )
        call.outcome = "callback"

    # ---- questions ---------------------------------------------------------------------------

    def _answer(self, session: Session, call: IvrCall, ask: Ask, state: dict) -> Outcome:
        handler = getattr(self, f"_q_{ask.question}")
        return handler(session, call, ask.args, state)

    def _resumable(self, session: Session, call: IvrCall) -> Dossier | None:
        if call.caller is None:
            return None
        since = self.runtime.clock.now() - dt.timedelta(hours=self.settings.ivr.resume_hours)
        return session.scalar(
            select(Dossier)
            .where(
                Dossier.status == DossierStatus.DRAFT,
                Dossier.caller_phone == call.caller,
                Dossier.discarded_at.is_(None),
                Dossier.updated_at >= since,
                Dossier.channel == Channel.PHONE,
            )
            .order_by(Dossier.updated_at.desc(), Dossier.id.desc())
            .limit(1)
        )

    def _q_resumable_draft(self, session, call, args, state) -> Outcome:
        draft = self._resumable(session, call)
        if draft is None or not (draft.form or {}).get("ivr"):
            return Outcome("no")
        answers = draft.form["ivr"]
        waiting = {
            key: answers[key] for key in ("procedure", "variant", "vessel") if key in answers
        }
        return Outcome("yes", {"resume_draft_id": draft.id, "resume_answers": waiting})

    def _q_load_draft(self, session, call, args, state) -> Outcome:
        draft = session.get(Dossier, state["scratch"].get("resume_draft_id") or 0)
        if draft is None or draft.status is not DossierStatus.DRAFT:
            return Outcome("gone")
        call.dossier_id = draft.id
        return Outcome("ok", answers=dict(draft.form.get("ivr", {})))

    def _q_caller_has_mobile(self, session, call, args, state) -> Outcome:
        _, kind = caller_number(call.caller)
        return Outcome("yes" if kind is LineKind.MOBILE else "no")

    def _q_submit(self, session, call, args, state) -> Outcome:
        draft = self._draft(session, call)
        now = self.runtime.clock.now()
        # These reads do not look at the draft's own row (the duplicate check leaves it out), so
        # the answer just saved on it need not be written first: the submit writes it with
        # everything else in one UPDATE.
        with session.no_autoflush:
            duplicate = self._duplicate_of(session, call, draft)
            if duplicate is not None:
                return duplicate
            # Read before the submit: after it takes the day's code, the step reads nothing
            # more (intake/dossiers.py `submit`).
            vessel = session.get(Vessel, draft.vessel_id) if draft.vessel_id else None
        try:
            # In a savepoint: when the day's range of codes is used up (intake/codes.py), what
            # the submit wrote goes, the call goes on, and the draft stays a draft with every
            # answer, for staff to file once the range is widened.
            with session.begin_nested():
                create_applicant(session, draft, now)
                submit(
                    session,
                    draft,
                    settings=self.settings,
                    calendar=self.runtime.calendar(),
                    actor=IVR,
                    now=now,
                )
        except SequenceExhausted as exc:
            log.error("call %d: draft %d not filed: %s", call.id, draft.id, exc)
            self._callback(session, call, "codes_exhausted", None)
            return Outcome("not_filed")
        # The receipt SMS is the notice rules' (scheduler/rules.py), from the "received" event.
        call.outcome = "submitted"
        log.info("call %d submitted dossier %s", call.id, draft.code)
        return Outcome(
            "ok",
            {
                "spoken_code": spoken_part(draft.code),
                "due": draft.due_date.isoformat() if draft.due_date else None,
                "missing": [item.key for item in missing_items(self.settings, draft, vessel)],
            },
        )

    def _duplicate_of(self, session: Session, call: IvrCall, draft: Dossier) -> Outcome | None:
        """An open dossier for the same vessel and procedure means no second one from the phone
        (staff can still file one). Its owner, by citizen id, hears it; anyone else learns
        nothing of it (a vessel number alone must not reveal a dossier) but gets a call back."""
        existing = open_dossier_like(session, draft)
        if existing is None:
            return None
        log.info("call %d: dossier %s is already open for this vessel", call.id, existing.code)
        if (existing.form or {}).get("citizen_id") == (draft.form or {}).get("citizen_id"):
            draft.discarded_at = self.runtime.clock.now()  # theirs is filed: nothing to resume
            call.outcome = "duplicate"
            return Outcome("duplicate_known", self._status_data(existing))
        self._callback(session, call, "duplicate", None)  # the draft stays, for staff to see
        return Outcome("duplicate_other")

    def _q_lookup_allowed(self, session, call, args, state) -> Outcome:
        allowed = args.get("failures", 0) < self.settings.status_lookup.attempts_per_call
        if not allowed:
            log.info("call %d: no more status look-ups in this call", call.id)
        return Outcome("yes" if allowed else "no")

    def _q_find_dossier(self, session, call, args, state) -> Outcome:
        query: str = args.get("query", "")
        found = self._find(session, call, query)
        call.outcome = "status"
        if found is not None and is_own_phone(found, call.caller):
            return Outcome("mine", self._status_data(found))
        if query == "":
            # "My latest dossier" names no one else's: nothing to hide, nothing to check.
            return Outcome("none")
        # Someone else's dossier, or none at all: the same question either way, so the answer
        # does not tell which codes exist. Always set the candidate: a previous look-up in this
        # call left its own in the scratch values.
        return Outcome("verify", {"candidate_id": found.id if found is not None else None})

    def _find(self, session: Session, call: IvrCall, query: str) -> Dossier | None:
        if query == "":
            return latest_dossier_of_phone(session, call.caller) if call.caller else None
        if len(query) == SPOKEN_CODE_LENGTH:
            return find_dossier_by_code(session, query)
        return latest_dossier_of_vessel_digits(session, query)

    def _status_data(self, dossier: Dossier) -> dict[str, Any]:
        return {
            "spoken_code": spoken_part(dossier.code),
            "status": dossier.status.value,
            "due": due.isoformat() if (due := dossier.effective_due_date) else None,
        }

    def _q_verify_citizen_id(self, session, call, args, state) -> Outcome:
        candidate = state["scratch"].get("candidate_id")
        limits = LookupLimits.of(self.settings.status_lookup)
        now = self.runtime.clock.now()
        if not candidate:  # an unknown code: recorded, and the same answer as a wrong id
            record_unknown(session, caller=call.caller, limits=limits, now=now)
            return Outcome("no")
        last4 = args.get("last4", "")
        dossier = check_last_digits(
            session, candidate, last4, caller=call.caller, limits=limits, now=now, actor=IVR.name
        )
        return Outcome("ok", self._status_data(dossier)) if dossier else Outcome("no")

    def _q_office_open(self, session, call, args, state) -> Outcome:
        open_now = office_open(self.settings, self.runtime.calendar(), self.runtime.clock.now())
        call.outcome = "operator"
        return Outcome("yes") if open_now else Outcome("no", {"operator_reason": "closed"})

    def _q_create_callback(self, session, call, args, state) -> Outcome:
        """The message left for a person, under why no person took the call: closed (outside
        office hours), busy or no_answer (a transfer nobody took)."""
        message = state["answers"].get("operator_message")
        reason = state["scratch"].get("operator_reason") or "closed"
        self._callback(session, call, f"operator_{reason}", message)
        return Outcome("ok")
