"""The portal sync's crash test at 1,000 dossiers (the suite runs it with 300).

    .venv/bin/python bench/onestop_crash.py [--dossiers 1000] [--seed S]

Runs tests/onestop/test_crash_safety.py with TONGDAI_CRASH_DOSSIERS set: three sync workers
SIGKILLed at random against the faulty portal double while staff move the dossiers on. Needs
PostgreSQL as the tests do. Prints the test's summary line (items, seconds, statuses, workers
started and killed, the portal's log-ins and injected faults) and whether it passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--seed", default="")
    args = parser.parse_args()
    env = {**os.environ, "TONGDAI_CRASH_DOSSIERS": str(args.dossiers)}
    if args.seed:
        env["TONGDAI_FAULT_SEED"] = args.seed
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
         "tests/onestop/test_crash_safety.py"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    for line in lines:
        if line.startswith("seed ") or line.startswith("portal crash test"):
            print(line)
    print(lines[-1] if lines else result.stderr[-2000:])
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
