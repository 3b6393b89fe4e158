"""Every benchmark still starts: `python bench/<name>.py --help` answers with its usage (its imports
resolve, its arguments parse) and starts nothing, and the helper modules the benchmarks share
import. A helper renamed or removed in one bench then breaks this test, not the next run of a
bench nobody ran since."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(path for path in (ROOT / "bench").glob("*.py") if path.name != "__init__.py")
SCRIPTS = [path for path in MODULES if 'if __name__ == "__main__":' in path.read_text()]
HELPERS = [path for path in MODULES if path not in SCRIPTS]
# A bench that did anything before parsing its arguments would meet these and fail.
NOWHERE = {
    "TONGDAI_TEST_PG_URL": "postgresql+psycopg://nobody@127.0.0.1:9/nothing",
    "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/nothing",
}


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env={**os.environ, **NOWHERE},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_every_bench_script_answers_help_without_running(script):
    done = _run(str(script), "--help")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("usage:"), done.stdout[:500]


@pytest.mark.parametrize("helper", HELPERS, ids=lambda path: path.name)
def test_every_bench_helper_module_imports(helper):
    done = _run("-c", f"import bench.{helper.stem}")
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_benches_are_all_checked():
    # The scripts the README documents are among those found, and the helpers are few.
    names = {path.name for path in SCRIPTS}
    assert {"abuse.py", "voice_webhooks.py", "agi_calls.py", "prompt_time.py"} <= names
    assert {path.name for path in HELPERS} <= {
        "_common.py",
        "deaf_gaps.py",
        "licence_call.py",
        "twilio_call.py",
    }
