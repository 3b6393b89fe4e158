"""The compose stack as a centre runs it: health, a real SIP call, restarts, replicas, backup.

In order, on one stack (tests/deploy/conftest.py): each test leaves what the next one checks.
"""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.asterisk.harness import Ami, Baresip, caller_audio
from tests.asterisk.test_end_to_end import (
    IvrListener,
    answer_from_the_owners_name,
    answer_up_to_the_owners_name,
)
from tests.deploy.stack import (
    AMI_PORT,
    REPO,
    SIP_PORT,
    TEST_ADDRESS,
    Stack,
    StackError,
    wait_for,
)

CALLER = "0912345678"
# What the tests after the call compare against.
state: dict[str, object] = {}


def _dossiers(stack: Stack) -> list[list[str]]:
    return stack.psql("SELECT code, status, form->>'citizen_id' FROM dossier ORDER BY id")


def _recordings(stack: Stack) -> dict[str, str]:
    """path -> sha256 of every recording file the database names (read in a web container)."""
    paths = [row[0] for row in stack.psql("SELECT path FROM recording WHERE path IS NOT NULL")]
    if not paths:
        return {}
    out = stack.compose(
        "exec", "-T", "web", "sha256sum", *[f"/var/lib/tongdai/{path}" for path in paths]
    ).stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines()}


RECEIPT = "receipt_incomplete"  # docs/notices.md


def _notices(stack: Stack, kind: str) -> list[list[str]]:
    return stack.psql(f"SELECT id, status, phone FROM notice WHERE kind = '{kind}' ORDER BY id")


def test_every_service_is_healthy_and_healthz_answers_through_the_published_port(stack):
    ps = stack.compose("ps", "--all", "--format", "{{.Service}} {{.State}} {{.Health}}").stdout
    states = [line.split() for line in ps.splitlines()]
    running = [s for s in states if s[0] not in ("migrate", "prompts")]
    assert running and all(s[1:] == ["running", "healthy"] for s in running), ps
    assert {s[0] for s in running} == {"postgres", "asterisk", "web", "proxy", "agi", "scheduler"}
    # The one-shot services ran once and finished.
    assert sorted(s[:2] for s in states if s[0] in ("migrate", "prompts")) == [
        ["migrate", "exited"], ["prompts", "exited"]
    ]  # fmt: skip
    # /healthz reads the parts that live in other processes from their heartbeat rows, which
    # may lag the containers' own checks: AMI is held by the AGI processes, which start before
    # Asterisk (it waits for them) and reconnect with a capped backoff (ivr/asterisk/ami.py, up
    # to 30 s between tries). So the stack must come to "ok", not be there at once.
    answers = []

    def settled():
        answers.append(stack.health())
        return answers[-1][0] == 200 and answers[-1][1]["status"] == "ok"

    try:
        wait_for("/healthz to say ok", settled, 90, interval=2)
    except StackError as error:
        raise AssertionError(f"{error}; the last answers: {answers[-3:]}") from None
    status, health = answers[-1]
    if len(answers) > 1:
        print(f"\ndeploy: /healthz ok after {len(answers)} tries; the first: {answers[0]}")
    assert health["database"]["backend"] == "postgresql"
    assert health["ami"]["connected"] is True
    assert health["scheduler"]["ok"] is True


def _phone(stack: Stack, work, name: str, caller: str = CALLER) -> Baresip:
    return Baresip(
        work / name,
        password=stack.env["TONGDAI_TEST_SIP_PASSWORD"],
        caller_id=caller,
        audio=caller_audio(work / f"{name}.wav"),
        server=f"{TEST_ADDRESS}:{SIP_PORT}",
    )


def licence_call(stack: Stack, phone: Baresip) -> None:
    """The whole licence application, keys pressed only once the IVR listens."""
    with Ami(stack.env["TONGDAI_AMI_SECRET"], host=TEST_ADDRESS, port=AMI_PORT) as ami:
        ivr = IvrListener(ami)
        phone.dial(f"sip:1900@{TEST_ADDRESS}:{SIP_PORT}")
        answer_up_to_the_owners_name(phone, ivr, "90617", "012345678901")
        answer_from_the_owners_name(phone, ivr)
        ami.wait_event("Hangup", timeout=120)


def test_a_real_sip_call_into_the_containerised_asterisk_files_a_licence_application(
    stack, tmp_path
):
    with _phone(stack, tmp_path, "caller") as phone:
        licence_call(stack, phone)

    dossiers = wait_for("the dossier", lambda: _dossiers(stack) or None, 30)
    assert len(dossiers) == 1
    code, status, citizen_id = dossiers[0]
    assert (status, citizen_id) == ("received", "012345678901")
    recordings = wait_for("two recordings", lambda: len(r := _recordings(stack)) == 2 and r, 30)
    # The receipt SMS: queued by the scheduler leader's rules, sent once by a dispatcher. A
    # licence by phone lacks what a keypad cannot give, so it is the receipt that says so.
    receipts = wait_for(
        "the receipt SMS",
        lambda: (n := _notices(stack, RECEIPT)) and n[0][1] in ("sent", "delivered") and n,
        90,
    )
    assert [(row[1], row[2]) for row in receipts] == [("sent", "+84912345678")]
    state.update(code=code, recordings=recordings)


QUEUE_NOTICE = """
from intake.runtime import Runtime
from sms.encoding import prepare
from sms.outbox import enqueue_written
from tongdai.startup import load_checked_settings

runtime = Runtime.from_settings(load_checked_settings())
with runtime.sessions() as session, session.begin():
    notice = enqueue_written(session, kind="manual", phone="0912345678",
                             measure=prepare("{text}", "strip"), now=runtime.clock.now())
    print(notice.id)
"""


def _sms_log(stack: Stack) -> str:
    return stack.compose("exec", "-T", "web", "cat", "/var/lib/tongdai/sms.log").stdout


def test_the_dossier_recordings_and_outbox_survive_restart_and_down_up(stack):
    code, recordings = state["code"], state["recordings"]
    # A notice queued while no scheduler runs: it must go out after the restarts, once.
    stack.compose("stop", "scheduler")
    text = "TTHCC: tin thu sau khi khoi dong lai"
    notice_id = stack.python("web", QUEUE_NOTICE.replace("{text}", text)).strip()
    assert _notices(stack, "manual") == [[notice_id, "pending", "+84912345678"]]

    stack.compose("restart")
    stack.up()
    stack.compose("down")  # volumes kept
    stack.up()

    assert _dossiers(stack) == [[code, "received", "012345678901"]]
    assert _recordings(stack) == recordings
    wait_for(
        "the queued notice to be sent",
        lambda: _notices(stack, "manual")[0][1] in ("sent", "delivered"),
        60,
    )
    time.sleep(5)  # a second dispatcher would have sent it again by now
    log = _sms_log(stack)
    assert log.count(text) == 1, log
    assert len(_notices(stack, RECEIPT)) == 1
    assert log.count(code) == 1, log  # the receipt, sent before the restarts, not resent
    status, health = stack.health()
    assert status == 200 and health["status"] == "ok", health


def _leader(stack: Stack) -> str | None:
    return stack.scalar("SELECT holder FROM heartbeat WHERE name = 'scheduler-leader'")


def test_two_schedulers_one_leader_and_the_other_takes_over_when_it_is_killed(stack):
    names = stack.containers("scheduler")
    assert len(names) == 2
    hosts = {stack.container_id(name)[:12]: name for name in names}
    leader = wait_for("a leader", lambda: _leader(stack), 30)
    host = leader.split(":")[0]
    assert host in hosts, (leader, hosts)
    # The standby knows it does not lead: only one holder ever beats.
    assert len(stack.psql("SELECT holder FROM heartbeat WHERE name = 'scheduler-leader'")) == 1

    killed = time.monotonic()
    subprocess_docker("kill", hosts[host])
    (standby,) = set(hosts) - {host}
    wait_for("the standby to lead", lambda: (_leader(stack) or "").startswith(standby), 20)
    print(f"\ndeploy: scheduler takeover after {time.monotonic() - killed:.1f} s")
    stack.up()  # the killed replica back
    assert len(stack.containers("scheduler")) == 2


def subprocess_docker(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True)


@pytest.mark.parametrize(
    ("path", "size", "limit"), [("/admin/login", 300 * 1024, 256), ("/twilio/voice", 40 * 1024, 32)]
)
def test_nginx_refuses_bodies_over_the_applications_limits(stack, path, size, limit):
    status, body, headers = stack.http(path, data=b"x" * size)
    assert status == 413
    assert headers.get("Server") == "nginx" and b"nginx" in body  # nginx's page, not the app's
    # Just under the limit passes nginx: the application answers (403: no Twilio signature,
    # 400: no CSRF token), not nginx.
    status, body, headers = stack.http(path, data=b"x" * (limit * 1024 - 512))
    assert status in (400, 403) and b"nginx" not in body, (status, body[:200])


def test_the_application_sees_the_client_address_nginx_forwards(stack):
    """A failed log-in is throttled per client address: behind nginx that must be the client's
    (X-Forwarded-For, believed from the compose network), not nginx's own."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = f"http://{TEST_ADDRESS}:8000/admin/login"
    page = opener.open(url, timeout=15).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrf_token": token, "username": "khong-co", "password": "sai-mat-khau"}
    ).encode()
    request = urllib.request.Request(url, data=form, headers={"X-Forwarded-For": "203.0.113.9"})
    try:
        opener.open(request, timeout=15)
    except urllib.error.HTTPError as error:
        assert error.code == 401
    assert stack.psql("SELECT source FROM login_throttle WHERE username = 'khong-co'") == [
        ["203.0.113.9"]
    ]


def test_two_web_replicas_behind_nginx_one_may_stop(stack):
    names = stack.containers("web")
    assert len(names) == 2
    subprocess_docker("stop", names[0])
    try:
        for _ in range(10):
            status, health = stack.health()
            assert status == 200, health
    finally:
        stack.up()
    assert len(stack.containers("web")) == 2


RETENTION_LATER = """
import datetime as dt

from intake.clock import FixedClock
from intake.runtime import Runtime
from scheduler.retention import run_retention
from tongdai.startup import load_checked_settings

settings = load_checked_settings()
runtime = Runtime.from_settings(settings)
later = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.retention.recording_days + 1)
print(run_retention(runtime.sessions, settings, FixedClock(later)).summary())
"""


def _audit(stack: Stack) -> list[list[str]]:
    return stack.psql(
        "SELECT (SELECT count(*) FROM audit_event), (SELECT count(*) FROM dossier_event),"
        " (SELECT count(*) FROM notice), (SELECT count(*) FROM ivr_call)"
    )


def test_backup_and_restore_into_a_fresh_stack(stack, tmp_path):
    code, recordings = state["code"], state["recordings"]
    counts = _audit(stack)
    options = stack.compose_options()
    backup = tmp_path / "backup"
    run_script("compose-backup.sh", backup, options)

    stack.compose("down", "--volumes")
    started = time.monotonic()
    run_script("compose-restore.sh", backup, options)
    print(f"\ndeploy: restored into a fresh stack in {time.monotonic() - started:.0f} s")

    assert _dossiers(stack) == [[code, "received", "012345678901"]]
    assert _audit(stack) == counts
    assert _recordings(stack) == recordings
    status, health = stack.health()
    assert status == 200 and health["status"] == "ok", health

    # Retention applies to restored data: past recording_days the audio goes, ours and
    # Asterisk's copy in the recordings volume (the scheduler mounts it; group 10010).
    spool = {
        row[0].rsplit("/", 1)[1]
        for row in stack.psql("SELECT provider_ref FROM recording WHERE provider = 'asterisk'")
    }
    assert len(spool) == 2 and spool <= _spool(stack), spool
    report = stack.python("scheduler", RETENTION_LATER)
    assert report.startswith("2 recordings deleted"), report
    assert _recordings(stack) == {}
    assert not spool & _spool(stack)
    assert stack.scalar("SELECT count(*) FROM recording WHERE status = 'deleted'") == "2"


def _spool(stack: Stack) -> set[str]:
    """The files in Asterisk's recordings volume."""
    out = stack.compose(
        "exec", "-T", "asterisk", "ls", "-1", "/var/spool/asterisk/recording/tongdai"
    )
    return set(out.stdout.split())


def run_script(name: str, directory, options: list[str]) -> None:
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / name), str(directory), *options],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{name}:\n{result.stdout}\n{result.stderr}"
