"""`make deploy-test`: the production compose stack, built and run (Docker, Compose v2, root).

The stack is built and started once for the module and exercised in order (each test builds on
the state the one before left); it is taken down with its volumes at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import missing_service
from tests.deploy.stack import PROVISION, Stack, write_env


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if os.geteuid() != 0 or shutil.which("docker") is None:
        missing_service("Docker (root and scripts/docker-provision.sh)")
    subprocess.run(["bash", str(PROVISION), "engine"], check=True)
    work = tmp_path_factory.mktemp("deploy")
    images = work / "images.env"
    subprocess.run(["bash", str(PROVISION), "images", str(images)], check=True)
    env_file = work / "test.env"
    stack = Stack(env_file, write_env(env_file, images.read_text()))
    # Whatever an interrupted run left behind.
    stack.compose("down", "--volumes", "--remove-orphans", check=False)
    started = time.monotonic()
    stack.up(build=True)
    print(f"\ndeploy: built and started in {time.monotonic() - started:.0f} s")
    try:
        yield stack
    finally:
        if os.environ.get("TONGDAI_DEPLOY_KEEP") != "1":
            stack.compose("down", "--volumes", "--remove-orphans", check=False)
