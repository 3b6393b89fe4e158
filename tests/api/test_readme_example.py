"""The README's signed `curl` example works against `tongdai run` (what `make run` starts),
run as written there with only its four values filled in."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess

from intake.runtime import Runtime
from plumbing.settings import load_settings
from tests.conftest import ROOT, missing_service
from tests.factories import create_dossier
from tests.tongdai.test_cli import _health, _start_run, env, tongdai  # noqa: F401 - env: a fixture

VALUES = ("ID", "SECRET", "CODE", "BASE")


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- api-example:start -->\n```sh\n(.*?)```\n<!-- api-example:end -->", readme, re.S
    )
    assert block, "the README lost its API example"
    return block.group(1)


def test_the_readme_curl_example_reads_and_sends_an_event(env, tmp_path):  # noqa: F811
    if not (shutil.which("curl") and shutil.which("openssl")):
        missing_service("curl and openssl")
    process, port = _start_run(env)
    try:
        assert _health(port) is not None, "tongdai run did not start"
        added = tongdai("apiclient", "add", "motcua", "--scope", "write", env=env)
        assert added.returncode == 0, added.stderr
        public_id = re.search(r"client id: (\S+)", added.stdout).group(1)
        secret = re.search(r"secret: +(\S+)", added.stdout).group(1)
        settings = load_settings(ROOT / "config.toml", env=env)
        runtime = Runtime.from_settings(settings)
        with runtime.sessions() as session, session.begin():
            code = create_dossier(session, runtime).code
        runtime.engine.dispose()
        values = {"ID": public_id, "SECRET": secret, "CODE": code,
                  "BASE": f"http://127.0.0.1:{port}"}  # fmt: skip
        script = readme_example()
        for name in VALUES:
            script, found = re.subn(rf"^{name}=.*$", f"{name}='{values[name]}'", script, flags=re.M)
            assert found == 1, f"the example no longer sets {name}"
        script = script.replace("\ncurl ", "\necho; curl ")  # one answer per line

        run = subprocess.run(
            ["bash", "-e", "-c", script], capture_output=True, text=True, timeout=60
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)

    assert run.returncode == 0, run.stderr
    listed, changed = [json.loads(line) for line in run.stdout.split("\n") if line.strip()]
    assert [item["code"] for item in listed["items"]] == [code]
    assert changed["status"]["name"] == "supplement_requested", changed
    assert changed["history"][-1]["details"]["documents"] == [
        "Bản sao giấy chứng nhận đăng ký tàu cá"
    ]
