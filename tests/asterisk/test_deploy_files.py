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
    "migrate": ["tongdai", "db", "upgrade"],
}
PROMPTS_DIR = "/var/lib/tongdai-prompts"


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
    """target -> source of a service's volumes (short or long syntax)."""
    result = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            result[volume["target"]] = volume["source"]
            continue
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
            # .env, unless TONGDAI_ENV_FILE names another (make deploy-test's own).
            assert env_file == "${TONGDAI_ENV_FILE:-.env}", name
    assert ENV_EXAMPLE.is_file()


def test_every_file_the_dockerfiles_copy_exists() -> None:
    for dockerfile in (REPO / "deploy" / "docker").glob("Dockerfile.*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (REPO / source).exists(), f"{dockerfile.name}: {source}"


def test_the_app_image_copies_every_package_the_project_installs() -> None:
    """Dockerfile.app copies the packages one by one: a new package left out would install a
    project that fails at its first import (the API and the portal client were, once)."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {
        pattern.rstrip("*")
        for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    dockerfile = (REPO / "deploy/docker/Dockerfile.app").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.M))
    assert packages - copied == set()


def test_the_services_and_their_commands(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {
        "postgres", "migrate", "prompts", "asterisk", "web", "proxy", "agi", "scheduler"
    }  # fmt: skip
    for name, command in APP_SERVICES.items():
        assert services[name]["command"] == command, name
        assert services[name]["image"] == "tongdai-app", name
    # One build of the app image, by the one-shot migrate service; the others never pull it.
    assert services["migrate"]["build"]["dockerfile"] == "deploy/docker/Dockerfile.app"
    assert [name for name, service in services.items() if "build" in service] == [
        "migrate", "asterisk", "proxy"
    ]  # fmt: skip
    assert services["postgres"]["image"] == "${TONGDAI_POSTGRES_IMAGE:-postgres:16}"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["asterisk"]["healthcheck"]["test"][1:] == [
        "asterisk",
        "-rx",
        "core show version",
    ]
    assert services["asterisk"]["build"]["dockerfile"] == "deploy/docker/Dockerfile.asterisk"
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_replicas_never_race_on_migrations_or_prompts(compose: dict) -> None:
    services = compose["services"]
    completed = {"condition": "service_completed_successfully"}
    for name in ("web", "agi", "scheduler"):
        assert services[name]["depends_on"]["migrate"] == completed, name
        assert services[name]["deploy"]["replicas"] == 2, name
    for name in ("agi", "asterisk"):
        assert services[name]["depends_on"]["prompts"] == completed, name
    for name in ("migrate", "prompts"):
        assert services[name]["restart"] == "no", name
    # Nothing runs before the command in the image: no replica migrates or builds prompts.
    entrypoint = (REPO / "deploy/docker/app-entrypoint.sh").read_text()
    assert "tongdai db upgrade" not in entrypoint and "prompts build" not in entrypoint


def test_every_service_has_a_health_check_and_none_needs_python(compose: dict) -> None:
    for name, service in compose["services"].items():
        if name in ("migrate", "prompts"):
            continue
        test = service["healthcheck"]["test"]
        assert "python" not in " ".join(test), name


def test_the_app_runs_read_only_and_not_as_root(compose: dict) -> None:
    for name in (*APP_SERVICES, "prompts"):
        assert compose["services"][name]["read_only"] is True, name
    dockerfile = (REPO / "deploy/docker/Dockerfile.app").read_text()
    assert "\nUSER tongdai\n" in dockerfile
    assert "ARG BASE_IMAGE=python:3.11-slim" in dockerfile


def test_asterisk_and_postgres_run_read_only_and_asterisk_not_as_root(compose: dict) -> None:
    services = compose["services"]
    for name in ("asterisk", "postgres"):
        assert services[name]["read_only"] is True, name
    # What each writes: a tmpfs or a volume.
    assert {"/var/run/postgresql", "/tmp"} <= set(services["postgres"]["tmpfs"])
    assert "/var/lib/postgresql/data" in _mounts(services["postgres"])
    asterisk = services["asterisk"]
    assert {"/tmp", "/var/run/asterisk", "/var/log/asterisk", "/etc/asterisk-generated"} <= set(
        asterisk["tmpfs"]
    )
    assert {"/var/lib/asterisk", RECORDINGS} <= set(_mounts(asterisk))
    dockerfile = (REPO / "deploy/docker/Dockerfile.asterisk").read_text()
    assert "\nUSER asterisk\n" in dockerfile
    assert "-U" not in dockerfile.split("\nCMD ", 1)[1]  # nothing to drop: not root to start with


def _writable(service: dict, target: str) -> bool:
    for volume in service.get("volumes", []):
        if isinstance(volume, dict) and volume["target"] == target:
            return not volume.get("read_only", False)
        if isinstance(volume, str) and volume.split(":")[1] == target:
            return not volume.endswith(":ro")
    raise AssertionError(f"{target} is not mounted")


def test_retention_in_the_scheduler_can_delete_asterisks_recordings(compose: dict) -> None:
    services = compose["services"]
    asterisk, scheduler, agi = services["asterisk"], services["scheduler"], services["agi"]
    # The same volume, at the path the recording rows name (retention takes the file name).
    assert _mounts(scheduler)[RECORDINGS] == _mounts(asterisk)[RECORDINGS]
    assert _writable(scheduler, RECORDINGS) and _writable(asterisk, RECORDINGS)
    assert not _writable(agi, RECORDINGS)
    # One group for the three, given to the recordings folder by Asterisk's entrypoint.
    (group,) = asterisk["group_add"]
    assert scheduler["group_add"] == agi["group_add"] == [group]
    assert asterisk["environment"]["TONGDAI_RECORDINGS_GID"] == group
    entrypoint = (REPO / "deploy/docker/asterisk-entrypoint.sh").read_text()
    assert 'chgrp "$TONGDAI_RECORDINGS_GID" "$recordings"' in entrypoint
    assert 'chmod 2770 "$recordings"' in entrypoint


def test_the_services_find_each_other(compose: dict) -> None:
    services = compose["services"]
    asterisk_env = services["asterisk"]["environment"]
    # Asterisk calls each agi container (named <project>-agi-<n>) on the port `tongdai agi`
    # listens on.
    replicas = services["agi"]["deploy"]["replicas"]
    assert asterisk_env["TONGDAI_AGI_HOST"].split("&") == [
        f"{compose['name']}-agi-{n}" for n in range(1, replicas + 1)
    ]
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


def test_the_rtp_range_is_the_same_in_rtp_conf_the_compose_file_and_the_image(
    compose: dict,
) -> None:
    """Asterisk offers callers ports from rtp.conf: one the compose file does not publish (or
    the image does not expose) is a call with no audio, found only on a busy day."""
    lines = [line.replace(" ", "") for line in _conf_lines("rtp.conf") if "=" in line]
    settings = dict(line.split("=", 1) for line in lines)
    ports = f"{settings['rtpstart']}-{settings['rtpend']}"
    published = [p.rsplit(":", 2)[-2:] for p in compose["services"]["asterisk"]["ports"]]
    assert [ports, f"{ports}/udp"] in published
    dockerfile = (REPO / "deploy/docker/Dockerfile.asterisk").read_text()
    [expose] = re.findall(r"^EXPOSE (.+)$", dockerfile, flags=re.M)
    assert f"{ports}/udp" in expose.split()


def test_prompts_and_recordings_are_shared_at_the_right_paths(compose: dict) -> None:
    services = compose["services"]
    asterisk = _mounts(services["asterisk"])
    agi = _mounts(services["agi"])
    assert asterisk["/etc/asterisk"] == "./deploy/asterisk"
    # The AGI reads a recording at the very path it told Asterisk to record to.
    assert agi[RECORDINGS] == asterisk[RECORDINGS]
    # `tongdai prompts build --asterisk-dir DIR` writes DIR/<key>.wav, Asterisk plays
    # sounds/tongdai/<key>.
    prompts = services["prompts"]
    assert prompts["command"][-2:] == ["--asterisk-dir", PROMPTS_DIR]
    assert _mounts(prompts)[PROMPTS_DIR] == asterisk[SOUNDS]


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
        missing_service("Docker Compose v2 (scripts/docker-provision.sh engine)")
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
    # One of the hosts TONGDAI_AGI_HOST lists ("&"), in turn.
    assert "Set(TONGDAI_AGI=${CUT(TONGDAI_AGI_HOST,&,${AGI_PICK})})" in dialplan
    assert "AGI(agi://${TONGDAI_AGI}:${TONGDAI_AGI_PORT}/intake)" in dialplan
    assert (
        "AGI(agi://${TONGDAI_AGI}:${TONGDAI_AGI_PORT}/intake?event=transfer_failed"
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
        "func_cut.so",
        "func_global.so",
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
