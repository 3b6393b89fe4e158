"""The compose stack as a centre runs it: health, a real SIP call, restarts, replicas, backup.

In order, on one stack (tests/deploy/conftest.py): each test leaves what the next one checks.
"""

from __future__ import annotations

from tests.asterisk.harness import Ami, Baresip, caller_audio
from tests.asterisk.test_end_to_end import IvrListener, press, speak
from tests.deploy.stack import AMI_PORT, SIP_PORT, TEST_ADDRESS, Stack, wait_for

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
    status, health = stack.health()
    assert status == 200, health
    assert health["status"] == "ok"
    assert health["database"]["backend"] == "postgresql"
    assert health["ami"]["connected"] is True
    assert health["scheduler"]["ok"] is True


def _phone(stack: Stack, work, name: str) -> Baresip:
    return Baresip(
        work / name,
        password=stack.env["TONGDAI_TEST_SIP_PASSWORD"],
        caller_id=CALLER,
        audio=caller_audio(work / f"{name}.wav"),
        server=f"{TEST_ADDRESS}:{SIP_PORT}",
    )


def licence_call(stack: Stack, phone: Baresip) -> None:
    """The whole licence application, keys pressed only once the IVR listens."""
    with Ami(stack.env["TONGDAI_AMI_SECRET"], host=TEST_ADDRESS, port=AMI_PORT) as ami:
        ivr = IvrListener(ami)
        phone.dial(f"sip:1900@{TEST_ADDRESS}:{SIP_PORT}")
        press(phone, ivr, "main_menu", "1")
        press(phone, ivr, "licence_variant", "1")
        press(phone, ivr, "vessel_digits", "90617#")
        press(phone, ivr, "vessel_is", "1")
        press(phone, ivr, "citizen_id", "012345678901#")
        press(phone, ivr, "citizen_id_is", "1")
        speak(phone, ivr)  # owner's name
        speak(phone, ivr)  # address
        press(phone, ivr, "delivery", "1")
        press(phone, ivr, "phone_own", "1")
        press(phone, ivr, "summary_intro", "1")
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
    # The receipt SMS: queued by the scheduler leader's rules, sent once by a dispatcher.
    receipts = wait_for(
        "the receipt SMS",
        lambda: (n := _notices(stack, "receipt")) and n[0][1] in ("sent", "delivered") and n,
        90,
    )
    assert [(row[1], row[2]) for row in receipts] == [("sent", "+84912345678")]
    state.update(code=code, recordings=recordings)
