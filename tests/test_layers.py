"""The floors (README "How the pieces fit") hold, and the import-linter contracts in
pyproject.toml would catch an import that points up a floor or into the web."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = [
    "tongdai",
    "admin",
    "api",
    "reports",
    "scheduler",
    "onestop",
    "ivr",
    "sms",
    "intake",
    "plumbing",
]
FLOORS = "Each floor imports only the floors below it"
NO_WEB = "The domain core, the reports and the portal client know no web or telephony"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages of `tree`, found there first on the import path."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    command = command or shutil.which("lint-imports")
    assert command, "import-linter is part of the test extras"
    env = os.environ | {"PYTHONPATH": str(tree), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [command, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(REPO / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tree


def test_the_packages_keep_to_their_floors():
    result = lint_imports(REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{FLOORS} KEPT" in result.stdout
    assert f"{NO_WEB} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "added_import", "contract", "reported"),
    [
        ("intake/phone.py", "import admin", FLOORS, "intake.phone -> admin"),
        ("plumbing/queue.py", "import tongdai.cli", FLOORS, "plumbing.queue -> tongdai.cli"),
        ("sms/outbox.py", "import scheduler.rules", FLOORS, "sms.outbox -> scheduler.rules"),
        ("intake/dossiers.py", "import flask", NO_WEB, "intake.dossiers -> flask"),
    ],
)
def test_an_import_against_the_floors_fails_the_lint_naming_its_contract(
    tmp_path, module, added_import, contract, reported
):
    tree = copy_of_the_tree(tmp_path)
    with (tree / module).open("a") as source:
        source.write(f"\n{added_import}  # noqa: E402, F401\n")

    result = lint_imports(tree)

    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
    assert reported in result.stdout
