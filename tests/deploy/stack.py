"""The compose stack of docker-compose.yml, driven through the `docker compose` command.

Everything the tests send goes to published ports on TEST_ADDRESS (a loopback address of its
own, so the stack never collides with a development Asterisk or web app on 127.0.0.1); what they
read from inside goes through `docker compose exec` (psql in the postgres service, the project's
own Python in an app container).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROVISION = REPO / "scripts" / "docker-provision.sh"
# Published only for the tests: AMI, so a test follows the IVR as tests/asterisk do.
TEST_OVERRIDE = Path(__file__).with_name("compose.test.yml")
TEST_ADDRESS = "127.0.0.2"
HTTP_PORT = 8000
SIP_PORT = 5060
AMI_PORT = 5038
# The compose network's gateway: the source of every packet Docker's port publishing forwards.
GATEWAY = "172.30.53.1"
PROJECT = "tongdai"


class StackError(RuntimeError):
    pass


def write_env(path: Path, images_env: str) -> dict[str, str]:
    """A complete .env for the stack (from .env.example, fresh secrets), written to `path`."""
    password, ami = secrets.token_hex(12), secrets.token_hex(12)
    values = {
        "POSTGRES_PASSWORD": password,
        "DATABASE_URL": f"postgresql+psycopg://tongdai:{password}@postgres:5432/tongdai",
        "TONGDAI_SECRET_KEY": secrets.token_hex(24),
        "TONGDAI_AMI_SECRET": ami,
        "TONGDAI_AMI_URL": f"ami://tongdai:{ami}@asterisk:5038",
        "TONGDAI_PUBLIC_URL": f"http://{TEST_ADDRESS}:{HTTP_PORT}",
        "TONGDAI_SMS_GATEWAY": "console",
        "TONGDAI_HEALTH_TOKEN": secrets.token_hex(12),
        "TONGDAI_ENV_FILE": str(path),
        "TONGDAI_PUBLISH_ADDRESS": TEST_ADDRESS,
        "TONGDAI_PUBLISH_HTTP": f"{TEST_ADDRESS}:{HTTP_PORT}",
        "TONGDAI_TEST_SIP_PASSWORD": secrets.token_hex(12),
        "TONGDAI_TEST_SIP_PERMIT": f"{GATEWAY}/32",
        "TONGDAI_TEST_SIP_MEDIA_ADDRESS": TEST_ADDRESS,
        # The test phone is "outside": it must be told the published address, not the
        # container's, in Contact headers (it cannot reach the container's address).
        "TONGDAI_SIP_EXTERNAL_ADDRESS": TEST_ADDRESS,
        "TONGDAI_SIP_LOCAL_NET": "172.30.53.0/32",
    }
    example = (REPO / ".env.example").read_text().splitlines()
    lines = []
    for line in example:
        key = line.split("=", 1)[0]
        if line and not line.startswith("#") and key in values:
            line = f"{key}={values.pop(key)}"
        lines.append(line)
    lines += [f"{key}={value}" for key, value in values.items()]
    lines += images_env.splitlines()
    path.write_text("\n".join(lines) + "\n")
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


class Stack:
    def __init__(self, env_file: Path, env: dict[str, str]) -> None:
        self.env_file = env_file
        self.env = env

    def compose_options(self) -> list[str]:
        return ["--project-name", PROJECT, "--env-file", str(self.env_file),
                "-f", "docker-compose.yml", "-f", str(TEST_OVERRIDE)]  # fmt: skip

    def compose(self, *args: str, timeout: float = 900, check: bool = True,
                input: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        command = ["docker", "compose", *self.compose_options(), *args]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                                timeout=timeout, input=input, check=False)  # fmt: skip
        if check and result.returncode != 0:
            raise StackError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, *services: str, build: bool = False) -> None:
        args = ["up", "--detach", "--wait", "--wait-timeout", "600"]
        self.compose(*args, *(["--build"] if build else []), *services)

    def psql(self, query: str) -> list[list[str]]:
        """Rows of `query`, run by psql in the postgres service."""
        psql = ["psql", "-U", "tongdai", "-d", "tongdai", "-v", "ON_ERROR_STOP=1", "-tA"]
        out = self.compose("exec", "-T", "postgres", *psql, "-F", "\t", "-c", query).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def scalar(self, query: str) -> str | None:
        rows = self.psql(query)
        return rows[0][0] if rows else None

    def python(self, service: str, code: str) -> str:
        """`code` run by the project's Python in a running `service` container."""
        return self.compose("exec", "-T", service, "python", "-", input=code).stdout

    def containers(self, service: str) -> list[str]:
        """The running containers of `service` (names)."""
        out = self.compose("ps", "--format", "{{.Name}}", service).stdout
        return sorted(out.split())

    def container_id(self, name: str) -> str:
        out = subprocess.run(["docker", "inspect", "--format", "{{.Id}}", name],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        return out.strip()

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service).stdout

    def http(
        self, path: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        url = f"http://{TEST_ADDRESS}:{HTTP_PORT}{path}"
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def health(self) -> tuple[int, dict]:
        status, body, _ = self.http(
            "/healthz", headers={"X-Health-Token": self.env["TONGDAI_HEALTH_TOKEN"]}
        )
        return status, json.loads(body)


def wait_for(what: str, check, seconds: float, interval: float = 0.5):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise StackError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(interval)
