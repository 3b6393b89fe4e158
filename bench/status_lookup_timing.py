"""Does the phone status line answer an unknown code faster than a real code with a wrong
citizen id? Both get the same prompts; this measures the remaining difference, the time of the
step that checks the 4 digits, in-process (Flask test client, signed Twilio webhooks) on a
throw-away PostgreSQL database.

A real code checks and records (its dossier under a row lock, the block, an insert, a count);
an unknown code is recorded too (an insert, a count) so that most of the work, and the commit's
disk flush, is the same.
The figures say how large the rest is next to what a caller could observe through the
telephone network (tens of milliseconds of jitter per prompt).

    .venv/bin/python bench/status_lookup_timing.py [--samples 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twilio.request_validator import RequestValidator

from bench._common import summarize, throwaway_database

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
# Fewer failures per dossier than the block needs, so every real code is checked, not refused.
CHECKS_PER_DOSSIER = 4


class Call:
    def __init__(self, client, caller: str, sid: str) -> None:
        self.client, self.caller, self.sid = client, caller, sid
        self.twiml: ET.Element | None = None

    def post(self, path: str, form: dict[str, str]) -> float:
        form = {"CallSid": self.sid, "From": self.caller, "To": "+842553822222", **form}
        signature = RequestValidator(TOKEN).compute_signature(f"http://localhost{path}", form)
        started = time.perf_counter()
        response = self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.data
        self.twiml = ET.fromstring(response.data)
        return elapsed

    def press(self, digits: str) -> float:
        gather = self.twiml.findall("Gather")[-1]
        return self.post(gather.get("action"), {"Digits": digits})

    def heard(self) -> str:
        return " ".join(el.text or "" for el in self.twiml.iter("Say"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="timed checks of each kind")
    args = parser.parse_args()

    from intake.codes import spoken_part
    from intake.dossiers import start_draft, submit
    from intake.lifecycle import Actor
    from intake.runtime import Runtime
    from intake.statuses import Channel, Delivery
    from plumbing.settings import load_settings
    from tongdai.app import create_app
    from tongdai.bootstrap import prepare_database

    with throwaway_database("tongdai_bench_lookup") as url, tempfile.TemporaryDirectory() as data:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TONGDAI_")},
            "DATABASE_URL": url,
            "TONGDAI_DATA_DIR": data,
            "TONGDAI_SECRET_KEY": "bench",
            "TONGDAI_LOG_LEVEL": "WARNING",
            "TWILIO_AUTH_TOKEN": TOKEN,
        }
        settings = load_settings(ROOT / "config.toml", env=env)
        prepare_database(settings)
        runtime = Runtime.from_settings(settings)
        codes = []
        with runtime.sessions() as session, session.begin():
            for _ in range(-(-args.samples // CHECKS_PER_DOSSIER)):
                now = runtime.clock.now()
                draft = start_draft(session, procedure="vessel_safety", now=now,
                                    channel=Channel.PHONE, settings=settings,
                                    caller_phone="+84912345678")  # fmt: skip
                draft.variant, draft.delivery = "new", Delivery.POST
                draft.notify_phone = "+84912345678"
                draft.form = {"citizen_id": "012345678901"}
                submit(session, draft, settings=settings, calendar=runtime.calendar(),
                       actor=Actor.system("bench"), now=now)  # fmt: skip
                codes.append(spoken_part(draft.code))
        day = codes[0][:6]
        client = create_app(runtime).test_client()
        times: dict[str, list[float]] = {"real code, wrong id": [], "unknown code": []}
        for sample in range(args.samples * 2):
            kind = "unknown code" if sample % 2 else "real code, wrong id"
            query = codes[sample // 2 // CHECKS_PER_DOSSIER] if sample % 2 == 0 else f"{day}9999"
            call = Call(client, f"+8498{sample:07d}", f"CA{sample:032x}")
            call.post("/twilio/voice", {})
            call.press("3")
            call.press(query)
            elapsed = call.press("0000")
            assert "Không tìm thấy hồ sơ" in call.heard(), call.heard()
            times[kind].append(elapsed)
        runtime.engine.dispose()

    print(f"The step that checks the 4 digits, {args.samples} calls of each kind (ms):")
    for kind, values in times.items():
        s = summarize(values)
        print(
            f"  {kind:<20} p50 {s.p50 * 1e3:6.2f}  p95 {s.p95 * 1e3:6.2f}  max {s.max * 1e3:6.2f}"
        )
    difference = summarize(times["real code, wrong id"]).p50 - summarize(times["unknown code"]).p50
    print(f"  p50 difference: {difference * 1000:.2f} ms")


if __name__ == "__main__":
    main()
