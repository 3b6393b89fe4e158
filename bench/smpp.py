"""SMS through a real Jasmin to the carrier simulator, with windows 1 and 10.

    .venv/bin/python bench/smpp.py [--messages 500] [--windows 1,10] [--receipt-delay 0.1]

Starts a Jasmin of its own (tests/sms/smpp/jasmin.py: the Jasmin virtualenv, created when
missing; RabbitMQ on 127.0.0.1:5672; redis-server) and the carrier simulator in this process,
then, per window, a sender process holding one SmppGateway bind with that window and as many
sending threads, which sends `--messages` single-part GSM-7 messages (one per destination) as
fast as Jasmin answers.

Prints per window: messages accepted by Jasmin per second (at the sender), messages arrived at
the carrier per second (first to last arrival), receipt latency p50/p99 (from our submit's
answer to the receipt on our bind; the simulator waits `--receipt-delay` before sending each
receipt, which is included), and the sender process's resident memory (VmRSS at the end and
its peak VmHWM). The machine is shared: read the figures as orders of magnitude.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import status_kib, summarize  # noqa: E402


def sender(port: int, window: int, messages: int, prefix: str) -> None:
    """The process holding the bind: sends, waits for the receipts, prints JSON."""
    from plumbing.settings import SmppSettings
    from sms.gateways.base import OutgoingSms
    from sms.gateways.smpp import SmppGateway
    from sms.gateways.smpp_codec import Receipt
    from tests.sms.smpp.jasmin import PASSWORD, USER

    accepted_at: dict[str, float] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    all_receipts = threading.Event()

    def on_delivery(delivery, notice_id):
        now = time.monotonic()
        if isinstance(delivery, Receipt):
            with lock:
                started = accepted_at.get(delivery.message_id)
                if started is not None:
                    latencies.append(now - started)
                if len(latencies) >= messages:
                    all_receipts.set()
        return True

    settings = SmppSettings(port=port, system_id=USER, window=window, rate_per_second=0,
                            response_timeout_seconds=30)  # fmt: skip
    gateway = SmppGateway(settings, PASSWORD, on_delivery=on_delivery).start()
    if not gateway.wait_bound(15):
        raise SystemExit(f"not bound: {gateway.health()}")
    numbers = iter(range(messages))
    errors = 0

    def work() -> None:
        nonlocal errors
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            try:
                accepted = gateway.send(
                    OutgoingSms(n, f"+84{prefix}{n:05d}", f"Thong bao thu nghiem so {n}", "B")
                )
            except Exception:
                with lock:
                    errors += 1
                continue
            with lock:
                accepted_at[accepted.provider_id] = time.monotonic()

    threads = [threading.Thread(target=work) for _ in range(window)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sending = time.monotonic() - start
    all_receipts.wait(60)
    gateway.close()
    print(json.dumps({
        "accepted": len(accepted_at), "errors": errors, "seconds": sending,
        "latencies": latencies,
        "rss_kib": status_kib(os.getpid(), "VmRSS"), "hwm_kib": status_kib(os.getpid(), "VmHWM"),
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--windows", default="1,10")
    parser.add_argument("--receipt-delay", type=float, default=0.1)
    parser.add_argument("--sender", nargs=4, metavar=("PORT", "WINDOW", "MESSAGES", "PREFIX"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.sender:
        port, window, messages, prefix = args.sender
        sender(int(port), int(window), int(messages), prefix)
        return

    from tests.sms.smpp.carrier import CarrierSimulator
    from tests.sms.smpp.jasmin import CARRIER_PASSWORD, CARRIER_USER, Jasmin

    carrier = CarrierSimulator(system_id=CARRIER_USER, password=CARRIER_PASSWORD,
                               receipt_delay=args.receipt_delay)  # fmt: skip
    carrier.start()
    workdir = Path(tempfile.mkdtemp(prefix="tongdai-bench-jasmin-"))
    jasmin = Jasmin(workdir)
    try:
        jasmin.start()
        jasmin.provision(carrier.port)
        if not carrier.wait(lambda: carrier.bound() > 0, 15):
            raise SystemExit("Jasmin never bound to the carrier simulator")
        print(f"Jasmin 0.11.1 on 127.0.0.1:{jasmin.smpp_port}, carrier simulator on "
              f"{carrier.port}; {args.messages} single-part messages per window; receipts "
              f"after {args.receipt_delay:g} s; cores {os.cpu_count()}, load "
              f"{os.getloadavg()[0]:.1f}")  # fmt: skip
        for index, window in enumerate(int(w) for w in args.windows.split(",")):
            prefix = f"9{index}"
            done = subprocess.run(
                [sys.executable, __file__, "--sender", str(jasmin.smpp_port), str(window),
                 str(args.messages), prefix],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(done.stdout.strip().splitlines()[-1])
            carrier.wait(
                lambda p=prefix, wanted=result["accepted"]: (
                    sum(1 for s in carrier.submitted if s.destination.startswith("84" + p))
                    >= wanted
                ),
                30,
            )
            arrivals = sorted(
                s.at for s in carrier.submitted if s.destination.startswith("84" + prefix)
            )
            span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
            latency = summarize([v * 1000 for v in result["latencies"]])
            print(
                f"window {window:>2}: accepted {result['accepted']}/{args.messages} "
                f"({result['errors']} errors) at {result['accepted'] / result['seconds']:.0f}"
                f" msg/s; at the carrier {len(arrivals)} at {len(arrivals) / span:.0f} msg/s; "
                f"receipts {latency.count}, latency p50 {latency.p50:.0f} ms, p99 "
                f"{latency.p99:.0f} ms; sender RSS {result['rss_kib'] / 1024:.1f} MiB "
                f"(peak {result['hwm_kib'] / 1024:.1f} MiB)"
            )
    finally:
        jasmin.close()
        carrier.stop()


if __name__ == "__main__":
    main()
