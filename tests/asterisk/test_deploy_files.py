"""The deployment files: docker-compose.yml, the Dockerfiles, deploy/asterisk; and one real start of
Asterisk with the shipped configuration (in the sid chroot of scripts/asterisk-chroot.sh)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.asterisk.harness import (
    AMI_PORT,
    REPO,
    SHIPPED_CONFIG,
    AsteriskProcess,
    asterisk_root,
)
from tests.conftest import missing_service

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
RECORDINGS = "/var/spool/asterisk/recording/tongdai"
SOUNDS = "/usr/share/asterisk/sounds/tongdai"
APP_SERVICES = {
    "web": ["tongdai", "web", "--host", "0.0.0.0", "--port", "8000"],
    "agi": ["tongdai", "agi", "--host", "0.0.0.0", "--port", "4573"],
    "scheduler": ["tongdai", "scheduler"],
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {key: value for key, value in pairs}


def _mounts(service: dict) -> dict[str, str]:
    """target -> source of a service's short-syntax volumes."""
    result = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        result[target] = source
    return result


def _conf_lines(name: str) -> list[str]:
    """The configuration lines of deploy/asterisk/NAME, comments removed."""
    lines = []
    for line in (SHIPPED_CONFIG / name).read_text().splitlines():
        if line.startswith("#"):
            lines.append(line.strip())
            continue
        line = line.split(";", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def test_every_file_the_compose_file_refers_to_exists(compose: dict) -> None:
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            assert (REPO / build["context"] / build["dockerfile"]).is_file(), name
        for source in _mounts(service).values():
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source}"
        for env_file in [service.get("env_file")] if service.get("env_file") else []:
            assert env_file == ".env", name
    assert ENV_EXAMPLE.is_file()


def test_every_file_the_dockerfiles_copy_exists() -> None:
    for dockerfile in (REPO / "deploy" / "docker").glob("Dockerfile.*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (REPO / source).exists(), f"{dockerfile.name}: {source}"


def test_the_services_and_their_commands(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "asterisk", "web", "agi", "scheduler"}
    for name, command in APP_SERVICES.items():
        assert services[name]["command"] == command, name
        assert services[name]["env_file"] == ".env", name
        assert services[name]["build"]["dockerfile"] == "deploy/docker/Dockerfile.app"
    assert services["postgres"]["image"] == "postgres:16"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["asterisk"]["healthcheck"]["test"][1:] == [
        "asterisk",
        "-rx",
        "core show version",
    ]
    assert services["asterisk"]["build"]["dockerfile"] == "deploy/docker/Dockerfile.asterisk"
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_the_services_find_each_other(compose: dict) -> None:
    services = compose["services"]
    asterisk_env = services["asterisk"]["environment"]
    # Asterisk calls the agi service on the port `tongdai agi` listens on.
    assert asterisk_env["TONGDAI_AGI_HOST"] == "agi"
    assert asterisk_env["TONGDAI_AGI_PORT"] == APP_SERVICES["agi"][-1]
    assert asterisk_env["TONGDAI_SIP_BIND"] == "0.0.0.0:5060"
    # AMI must be reachable from the app containers, and only from their network.
    assert asterisk_env["TONGDAI_AMI_BIND"] == "0.0.0.0"
    subnet = compose["networks"]["tongdai"]["ipam"]["config"][0]["subnet"]
    assert asterisk_env["TONGDAI_AMI_PERMIT"] == subnet
    assert "5038" not in " ".join(services["asterisk"].get("ports", []))
    env = _env_example()
    assert re.fullmatch(r"ami://tongdai:[^@]+@asterisk:5038", env["TONGDAI_AMI_URL"])
    assert "@postgres:5432/" in env["DATABASE_URL"]


def test_prompts_and_recordings_are_shared_at_the_right_paths(compose: dict) -> None:
    services = compose["services"]
    asterisk = _mounts(services["asterisk"])
    agi = _mounts(services["agi"])
    assert asterisk["/etc/asterisk"] == "./deploy/asterisk"
    # The AGI reads a recording at the very path it told Asterisk to record to.
    assert agi[RECORDINGS] == asterisk[RECORDINGS]
    # `tongdai prompts build` writes <TONGDAI_DATA_DIR>/prompts/asterisk, Asterisk plays
    # sounds/tongdai/<key>.
    data_dir = re.search(
        r"TONGDAI_DATA_DIR=(\S+)", (REPO / "deploy/docker/Dockerfile.app").read_text()
    ).group(1)
    for name in APP_SERVICES:
        assert _mounts(services[name])[f"{data_dir}/prompts/asterisk"] == asterisk[SOUNDS], name


def test_env_example_lists_every_setting_the_services_need() -> None:
    env = _env_example()
    for key in (
        "DATABASE_URL",
        "POSTGRES_PASSWORD",
        "TONGDAI_SECRET_KEY",
        "TONGDAI_AMI_SECRET",
        "TONGDAI_AMI_URL",
        "TONGDAI_PUBLIC_URL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
    ):
        assert key in env, key


def test_docker_compose_validates_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip("the `docker compose` plugin is not installed; the other tests read the file")
    # A scratch project: the real .env must not be needed (nor read) to validate.
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    for name in ("deploy", "config.toml"):
        (tmp_path / name).symlink_to(REPO / name)
    result = subprocess.run(
        [docker, "compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_dialplan_hands_calls_to_the_fastagi_server() -> None:
    dialplan = (SHIPPED_CONFIG / "extensions.conf").read_text()
    assert "AGI(agi://${TONGDAI_AGI_HOST}:${TONGDAI_AGI_PORT}/intake)" in dialplan
    assert (
        "AGI(agi://${TONGDAI_AGI_HOST}:${TONGDAI_AGI_PORT}/intake?event=transfer_failed"
        "&status=${DIALSTATUS})"
    ) in dialplan
    for context in ("[tongdai-inbound]", "[tongdai-outofhours]", "[tongdai-intake]"):
        assert context in dialplan
    assert "exten => 1900," in dialplan
    assert "Dial(${TONGDAI_DIAL},${OPERATOR_DIAL_SECONDS})" in dialplan
    assert "TONGDAI_AGI_PORT=4573" in dialplan


def test_the_context_call_backs_are_originated_into_exists_and_reaches_the_operator() -> None:
    from ivr.call_orders import CALLBACK_CONTEXT

    dialplan = (SHIPPED_CONFIG / "extensions.conf").read_text()
    context = dialplan.split(f"[{CALLBACK_CONTEXT}]\n", 1)[1].split("\n\n", 1)[0]
    assert context.startswith("exten => s,1,")  # the Originate's Exten is s
    assert "Dial(${TONGDAI_DIAL},${OPERATOR_DIAL_SECONDS})" in context


def test_no_secret_is_in_the_repository() -> None:
    manager = _conf_lines("manager.conf")
    assert not [line for line in manager if line.replace(" ", "").startswith("secret=")]
    assert '#include "/etc/asterisk-generated/manager_user.conf"' in manager
    pjsip = _conf_lines("pjsip.conf")
    assert not [line for line in pjsip if line.replace(" ", "").startswith("password=")]


def test_modules_conf_lists_the_dependencies_autoload_would_have_found() -> None:
    lines = _conf_lines("modules.conf")
    assert "autoload = no" in lines
    loaded = {line.split("=", 1)[1].strip() for line in lines if line.startswith("load")}
    for module in (
        "res_agi.so",
        "res_speech.so",
        "res_pjsip_pubsub.so",
        "func_callerid.so",
        "app_dial.so",
        "bridge_simple.so",
        "chan_pjsip.so",
        "format_wav.so",
    ):
        assert module in loaded, module


def _generate(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TONGDAI_")}
    return subprocess.run(
        ["bash", str(SHIPPED_CONFIG / "generate.sh"), str(out)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_generate_writes_every_file_the_configuration_includes(tmp_path: Path) -> None:
    result = _generate(tmp_path / "generated", TONGDAI_AMI_SECRET="s;cret", TONGDAI_AGI_PORT="4600")
    assert result.returncode == 0, result.stderr
    included = set()
    for conf in SHIPPED_CONFIG.glob("*.conf"):
        included |= set(re.findall(r'#include "/etc/asterisk-generated/([^"]+)"', conf.read_text()))
    assert included == {path.name for path in (tmp_path / "generated").iterdir()}
    generated = tmp_path / "generated"
    # `;` would start a comment in Asterisk's configuration.
    assert "secret = s\\;cret" in (generated / "manager_user.conf").read_text()
    assert "TONGDAI_AGI_PORT=4600" in (generated / "extensions_globals.conf").read_text()
    assert re.search(
        r"password = [0-9a-f]{32}", (generated / "pjsip_test_password.conf").read_text()
    )
    assert (generated / "manager_user.conf").stat().st_mode & 0o077 == 0


def test_generate_refuses_to_run_without_the_ami_secret(tmp_path: Path) -> None:
    result = _generate(tmp_path / "generated")
    assert result.returncode != 0
    assert "TONGDAI_AMI_SECRET" in result.stderr
    result = _generate(tmp_path / "generated", TONGDAI_AMI_SECRET="a\nsecret = other")
    assert result.returncode != 0


def _ami_exchange(sock: socket.socket, text: str) -> str:
    sock.sendall(text.encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(4096)
        assert chunk, f"AMI closed the connection; got {reply!r}"
        reply += chunk
    return reply.decode()


def test_asterisk_starts_with_the_shipped_configuration(tmp_path: Path) -> None:
    root = asterisk_root()
    if root is None or os.geteuid() != 0:
        missing_service("Asterisk chroot (scripts/asterisk-chroot.sh build)")
    with AsteriskProcess(root, tmp_path) as asterisk:
        with socket.create_connection(("127.0.0.1", AMI_PORT), timeout=10) as sock:
            banner = sock.recv(100).decode()
            assert banner.startswith("Asterisk Call Manager/")
            login = _ami_exchange(
                sock,
                f"Action: Login\r\nUsername: tongdai\r\nSecret: {asterisk.ami_secret}\r\n"
                "Events: off\r\n\r\n",
            )
            assert "Response: Success" in login, login
            status = _ami_exchange(sock, "Action: CoreStatus\r\nActionID: 1\r\n\r\n")
            assert "Response: Success" in status, status
            assert "CoreCurrentCalls: 0" in status
        assert "Running" in asterisk.cli("module show like res_agi")
        endpoints = asterisk.cli("pjsip show endpoints")
        assert "caller" in endpoints and "operator" in endpoints
        assert "TONGDAI_AGI_PORT=4573" in asterisk.cli("dialplan show globals")
        assert "ERROR[" not in asterisk.log_text()
        assert asterisk.sounds_dir.is_dir() and asterisk.recording_dir.is_dir()
    assert not asterisk.running
