"""Two FastAGI replicas behind one Asterisk: calls spread over both, and losing one loses only
the call it held, whose caller resumes on calling back. Runs after test_stack.py (file order),
on the same stack, with a caller of its own."""

from __future__ import annotations

import subprocess
import threading
import time

from tests.asterisk.harness import Ami
from tests.asterisk.test_end_to_end import (
    IvrListener,
    answer_from_the_owners_name,
    answer_up_to_the_owners_name,
    press,
)
from tests.deploy.stack import AMI_PORT, SIP_PORT, TEST_ADDRESS, Stack
from tests.deploy.test_stack import _phone, subprocess_docker

SECOND_CALLER = "0987654321"
THIRD_CALLER = "0977777777"
# As the AGI server's log masks them ("call 7 from +8498****321 via asterisk").
MASKED = {SECOND_CALLER: "from +8498****321 via", THIRD_CALLER: "from +8497****777 via"}


def _log(container: str) -> str:
    result = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
    return result.stdout + result.stderr


class ChannelListener(IvrListener):
    """IvrListener for one channel among several calls."""

    def __init__(self, ami: Ami, channel: str) -> None:
        super().__init__(ami)
        self.channel = channel

    def _next_exec(self, predicate, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.ami.wait_event(
                "AGIExecStart", timeout=deadline - time.monotonic(), Channel=self.channel
            )
            if predicate(event.get("Command", "")):
                return event["Command"]
        raise AssertionError("the IVR never got there")


class Other(threading.Thread):
    """A second caller's whole application, on its own AMI connection, in a thread."""

    def __init__(self, stack: Stack, work, *, not_channel: str) -> None:
        super().__init__(daemon=True)
        self.stack, self.work, self.not_channel = stack, work, not_channel
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            env = self.stack.env
            with Ami(env["TONGDAI_AMI_SECRET"], host=TEST_ADDRESS, port=AMI_PORT) as ami:
                with _phone(self.stack, self.work, "other", THIRD_CALLER) as phone:
                    phone.dial(f"sip:1900@{TEST_ADDRESS}:{SIP_PORT}")
                    while True:
                        channel = ami.wait_event("AGIExecStart", timeout=30)["Channel"]
                        if channel != self.not_channel:
                            break
                    ivr = ChannelListener(ami, channel)
                    answer_up_to_the_owners_name(phone, ivr, "90619", "011111111111")
                    answer_from_the_owners_name(phone, ivr)
                    ami.wait_event("Hangup", timeout=120, Channel=channel)
        except BaseException as exc:  # reported by the test's thread
            self.error = exc


def _agi_calls(stack: Stack) -> dict[str, int]:
    """Calls each running FastAGI container has opened ("call N from" log lines)."""
    counts = {}
    for name in stack.containers("agi"):
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
        logs += subprocess.run(["docker", "logs", name], capture_output=True, text=True).stdout
        counts[name] = logs.count(" via asterisk")
    return counts


def _short_call(stack: Stack, tmp_path, name: str) -> None:
    """Dial, hear the main menu, hang up."""
    with Ami(stack.env["TONGDAI_AMI_SECRET"], host=TEST_ADDRESS, port=AMI_PORT) as ami:
        with _phone(stack, tmp_path, name) as phone:
            ivr = IvrListener(ami)
            phone.dial(f"sip:1900@{TEST_ADDRESS}:{SIP_PORT}")
            ivr.prompt("main_menu")
            phone.hangup()
            ami.wait_event("Hangup", timeout=15)


def test_calls_spread_over_the_fastagi_replicas_and_a_dead_one_loses_only_its_call(stack, tmp_path):
    names = stack.containers("agi")
    assert len(names) == 2

    before = _agi_calls(stack)
    for number in range(6):
        _short_call(stack, tmp_path, f"short{number}")
    after = _agi_calls(stack)
    spread = {name: after[name] - before.get(name, 0) for name in after}
    print(f"\ndeploy: 6 calls over the FastAGI replicas: {spread}")
    # In turn (deploy/asterisk/extensions.conf), whatever order Docker's DNS gives.
    assert sorted(spread.values()) == [3, 3], spread

    # Two calls at once, one on each replica; the replica holding the first dies half-way
    # through it. The other call goes on to the end.
    with Ami(stack.env["TONGDAI_AMI_SECRET"], host=TEST_ADDRESS, port=AMI_PORT) as ami:
        with _phone(stack, tmp_path, "dropped", SECOND_CALLER) as phone:
            phone.dial(f"sip:1900@{TEST_ADDRESS}:{SIP_PORT}")
            channel = ami.wait_event("AGIExecStart", timeout=30)["Channel"]
            other = Other(stack, tmp_path, not_channel=channel)
            other.start()
            ivr = ChannelListener(ami, channel)
            answer_up_to_the_owners_name(phone, ivr, "90618", "098765432109")
            ivr.recording()
            (holder,) = [name for name in names if MASKED[SECOND_CALLER] in _log(name)]
            subprocess_docker("kill", holder)
            # Asterisk notices the closed connection when the recording under way ends
            # ([ivr] record_max_seconds at most).
            ami.wait_event("Hangup", timeout=90, Channel=channel)
        other.join(240)
    assert other.error is None, other.error
    assert not other.is_alive()
    assert MASKED[THIRD_CALLER] not in _log(holder)
    assert stack.psql("SELECT status FROM dossier WHERE form->>'citizen_id' = '011111111111'") == [
        ["received"]
    ]
    (survivor,) = set(names) - {holder}
    draft = stack.psql(
        "SELECT status, form->'ivr'->>'citizen_id' FROM dossier WHERE form->'ivr'->>"
        "'citizen_id' = '098765432109'"
    )
    assert draft == [["draft", "098765432109"]]

    # The caller rings back: the survivor takes the call and offers to continue.
    with _phone(stack, tmp_path, "again", SECOND_CALLER) as phone:
        with Ami(stack.env["TONGDAI_AMI_SECRET"], host=TEST_ADDRESS, port=AMI_PORT) as ami:
            ivr = IvrListener(ami)
            phone.dial(f"sip:1900@{TEST_ADDRESS}:{SIP_PORT}")
            press(phone, ivr, "resume_offer", "1")
            answer_from_the_owners_name(phone, ivr)
            ami.wait_event("Hangup", timeout=120)
    assert stack.psql("SELECT status FROM dossier WHERE form->>'citizen_id' = '098765432109'") == [
        ["received"]
    ]
    assert survivor in stack.containers("agi")
    stack.up()  # the killed replica back
    assert len(stack.containers("agi")) == 2
