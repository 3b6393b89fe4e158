"""Events from a processing system go through the same lifecycle as a staff member's button:
the same transition table, the same notices, the same audit line; a change the lifecycle does
not allow, or one that needs a supervisor, answers 409 and sends nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.models import ApiEvent
from intake.forms import fields_for
from intake.models import AuditEvent, Dossier, DossierEvent, Role
from intake.statuses import Delivery
from intake.statuses import DossierStatus as S
from scheduler.rules import run_rules
from sms.models import Notice
from tests.admin.staff import log_in, make_user, token
from tests.api.signed import make_system, status_event
from tests.factories import create_dossier

API_ONLY_DETAILS = {"event_id", "reported_at", "officer", "note"}
PAPERS = ["Bản sao giấy chứng nhận đăng ký tàu cá", "Ảnh chụp tàu"]
# (the status asked for, the status it is asked from, what the change needs)
CHANGES = [
    (S.ACCEPTED, S.RECEIVED, {}),
    (S.IN_PROCESS, S.ACCEPTED, {}),
    (S.SUPPLEMENT_REQUESTED, S.IN_PROCESS, {"papers": PAPERS, "reason": "Bản chụp bị mờ"}),
    (S.PAYMENT_REQUESTED, S.IN_PROCESS, {}),
    (S.RESULT_READY, S.IN_PROCESS, {}),
    (S.RETURNED, S.RESULT_READY, {}),
    (S.REFUSED, S.RECEIVED, {"reason": "Tàu dưới 6 mét"}),
    (S.WITHDRAWN, S.ACCEPTED, {"reason": "Công dân xin rút"}),
    (S.STOPPED, S.IN_PROCESS, {"reason": "Tàu đã bán"}),
]


def _complete_dossier(runtime, status: S) -> tuple[int, str]:
    """A dossier at `status` with every required answer, its result collected at the centre."""
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(
            session, runtime, status=status, delivery=Delivery.COLLECT, owner_name="Lê Văn Tám"
        )
        required = [f for f in fields_for(runtime.settings, dossier.procedure, dossier.variant)
                    if f.required]  # fmt: skip
        dossier.form = {**dossier.form, **{f.key: f"giá trị {f.key}" for f in required}}
        return dossier.id, dossier.code


def _by_staff(client, runtime, dossier_id: int, to: S, needs: dict) -> None:
    url = f"/admin/dossiers/{dossier_id}"
    client.post(f"{url}/claim", data={"csrf_token": token(client, url)})
    with runtime.sessions() as session:
        version = session.get(Dossier, dossier_id).version
    client.post(
        f"{url}/status",
        data={
            "csrf_token": token(client, url),
            "to": to.value,
            "version": version,
            "documents": needs.get("papers", []),
            "reason": needs.get("reason", ""),
        },
    )


def _what_followed(runtime, dossier_id: int, code: str, after_event: int, after_audit: int):
    """The events, notices and `dossier.changed` audit lines of a dossier after a point, with
    what differs by nature between the two paths (code, actor, the API's own details) left out."""
    with runtime.sessions() as session:
        events = session.scalars(
            select(DossierEvent)
            .where(DossierEvent.dossier_id == dossier_id, DossierEvent.id > after_event)
            .order_by(DossierEvent.id)
        ).all()
        notices = session.scalars(
            select(Notice).where(Notice.dossier_id == dossier_id).order_by(Notice.id)
        ).all()
        audits = session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.target_id == str(dossier_id),
                AuditEvent.action == "dossier.changed",
                AuditEvent.id > after_audit,
            )
            .order_by(AuditEvent.id)
        ).all()
    return (
        [
            (
                e.from_status,
                e.to_status,
                e.reason,
                e.override,
                {k: v for k, v in e.details.items() if k not in API_ONLY_DETAILS},
            )
            for e in events
        ],  # fmt: skip
        [
            (n.kind, n.text.replace(code, "<code>").replace(code.split("-", 1)[1], "<code>"))
            for n in notices
            if n.kind != "receipt"
        ],
        [(a.action, a.details["what"]) for a in audits],
    )


def _last_ids(runtime) -> tuple[int, int]:
    with runtime.sessions() as session:
        event = session.scalar(select(DossierEvent.id).order_by(DossierEvent.id.desc()).limit(1))
        audit = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    return event or 0, audit or 0


def _rules(runtime) -> None:
    run_rules(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now())


@pytest.mark.parametrize(("to", "start", "needs"), CHANGES, ids=[c[0].value for c in CHANGES])
def test_each_status_from_the_api_does_what_the_same_staff_action_does(
    client, app, runtime, to, start, needs
):
    staff_dossier, staff_code = _complete_dossier(runtime, start)
    api_dossier, api_code = _complete_dossier(runtime, start)
    _rules(runtime)
    before = _last_ids(runtime)
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    system = make_system(app.test_client(), runtime)

    _by_staff(client, runtime, staff_dossier, to, needs)
    reply = system.event(api_code, status_event("ev-1", to.value, **needs))
    _rules(runtime)

    assert reply.status_code == 200, reply.json
    assert reply.json["status"]["name"] == to.value
    by_staff = _what_followed(runtime, staff_dossier, staff_code, *before)
    by_api = _what_followed(runtime, api_dossier, api_code, *before)
    assert by_api == by_staff
    events, notices, audits = by_api
    assert [e[1] for e in events] == [to] and audits == [("dossier.changed", "move")]


def test_a_status_can_be_given_by_its_national_code(client, runtime):
    _, code = _complete_dossier(runtime, S.IN_PROCESS)
    system = make_system(client, runtime)

    reply = system.event(code, status_event("ev-9", 9))

    assert reply.status_code == 200
    assert reply.json["status"] == {"name": "result_ready", "code": 9, "label": "Đã có kết quả"}


def test_a_change_staff_already_made_answers_409_and_sends_nothing_twice(client, runtime):
    dossier_id, code = _complete_dossier(runtime, S.RESULT_READY)
    _rules(runtime)
    system = make_system(client, runtime)
    with runtime.sessions() as session:
        notices = session.scalar(select(Notice.id).order_by(Notice.id.desc()).limit(1))

    reply = system.event(code, status_event("ev-late", "result_ready"))
    _rules(runtime)

    assert reply.status_code == 409
    assert reply.mimetype == "application/problem+json"
    assert reply.json["current_status"] == "result_ready"
    assert reply.json["allowed"] == ["returned"]
    with runtime.sessions() as session:
        assert session.scalar(select(Notice.id).order_by(Notice.id.desc()).limit(1)) == notices


def test_a_second_supplement_request_needs_a_supervisor_in_admin(client, runtime):
    _, code = _complete_dossier(runtime, S.IN_PROCESS)
    system = make_system(client, runtime)
    needs = {"papers": PAPERS, "reason": "Thiếu giấy tờ"}
    assert system.event(code, status_event("a", "supplement_requested", **needs)).status_code == 200
    assert system.event(code, status_event("b", "in_process")).status_code == 200

    reply = system.event(code, status_event("c", "supplement_requested", **needs))

    assert reply.status_code == 409
    assert reply.json["type"].endswith("/supervisor-override-required")
    assert "/admin" in reply.json["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (status_event("p", "supplement_requested", reason="Thiếu"), "papers"),
        (status_event("r", "stopped"), "reason"),
        (status_event("x", "in_process", colour="red"), "colour"),
        ({**status_event("t", "in_process"), "at": "2026-12-01T09:30:00"}, "at"),
        (status_event("s", "nonsense"), "status"),
    ],
    ids=["papers", "reason", "unknown field", "time without offset", "unknown status"],
)
def test_a_bad_event_is_400_naming_the_field(client, runtime, payload, field):
    _, code = _complete_dossier(runtime, S.IN_PROCESS)
    system = make_system(client, runtime)

    reply = system.event(code, payload)

    assert reply.status_code == 400
    assert reply.mimetype == "application/problem+json"
    assert any(field in error["field"] for error in reply.json["errors"]), reply.json


def test_an_event_id_is_applied_once_and_answered_the_same(client, runtime):
    dossier_id, code = _complete_dossier(runtime, S.ACCEPTED)
    system = make_system(client, runtime)
    event = status_event("ev-once", "in_process")

    first = system.event(code, event)
    again = system.event(code, {**event})  # a retry: the same body
    other = system.event(code, {**event, "note": "khác"})

    assert first.status_code == again.status_code == 200
    assert again.json == first.json
    assert other.status_code == 422
    assert other.json["type"].endswith("/event-id-reused")
    with runtime.sessions() as session:
        moves = session.scalars(
            select(DossierEvent).where(
                DossierEvent.dossier_id == dossier_id, DossierEvent.to_status == S.IN_PROCESS
            )
        ).all()
        assert len(moves) == 1
        assert len(session.scalars(select(ApiEvent)).all()) == 1
        calls = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "api.post_event").order_by(AuditEvent.id)
        ).all()
    # One audit line per call: the first written with the change, the others after the answer.
    assert [(a.target_id, a.details["status"]) for a in calls] == [
        (code, 200),
        (code, 200),
        (code, 422),
    ]


def test_a_new_due_date_is_the_departments_own_and_needs_no_supervisor(client, runtime):
    """The department's new date is its own decision (docs/notices.md): unlike a second date
    typed by our staff, a second one from the department needs no supervisor's override."""
    _, code = _complete_dossier(runtime, S.IN_PROCESS)
    system = make_system(client, runtime)
    late = {
        "event_id": "late-1",
        "type": "new_due_date",
        "at": "2026-12-01T10:00:00+07:00",
        "actor": {"name": "Trần Thị Hoa"},
        "new_due_date": "2026-12-15",
        "reason": "chờ kết quả kiểm tra tàu",
    }

    first = system.event(code, late)
    second = system.event(code, {**late, "event_id": "late-2", "new_due_date": "2026-12-16"})
    _rules(runtime)

    assert first.status_code == 200 and first.json["new_due_date"] == "2026-12-15"
    assert second.status_code == 200 and second.json["new_due_date"] == "2026-12-16"
    with runtime.sessions() as session:
        apologies = session.scalars(
            select(Notice).where(Notice.kind == "apology").order_by(Notice.id)
        ).all()
    # Each apology gives the date missed and the new one: the second moves 15/12 to 16/12.
    assert len(apologies) == 2
    assert "15/12/2026" in apologies[0].text and "16/12/2026" not in apologies[0].text
    assert "16/12/2026" in apologies[1].text


def test_a_dispatch_by_post_sends_the_tracking_number(client, runtime):
    with runtime.sessions() as session, session.begin():
        code = create_dossier(session, runtime, status=S.RESULT_READY, delivery=Delivery.POST).code
    system = make_system(client, runtime)

    reply = system.event(
        code,
        {
            "event_id": "post-1",
            "type": "dispatched_by_post",
            "at": "2026-12-01T10:00:00+07:00",
            "actor": {"name": "Trần Thị Hoa"},
            "tracking_number": "EE123456789VN",
        },
    )
    _rules(runtime)

    assert reply.status_code == 200
    with runtime.sessions() as session:
        notice = session.scalars(select(Notice).where(Notice.kind == "result_post")).one()
    assert "EE123456789VN" in notice.text
