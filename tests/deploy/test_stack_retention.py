"""Retention in the stack: a recording past its time is deleted from every volume that held it,
Asterisk's recordings volume included, by the scheduler's own retention run. Runs last (file
order), on the recordings the calls of test_stack_replicas.py left: two dossiers."""

from __future__ import annotations

import tomllib
from pathlib import PurePosixPath

from tests.deploy.stack import REPO, Stack, wait_for

SPOOL = "/var/spool/asterisk/recording/tongdai"  # the recordings volume (docker-compose.yml)
DATA = "/var/lib/tongdai"  # tongdai-data: our copies, named by recording.path


def _stored(stack: Stack) -> dict[str, list[tuple[str, str, str]]]:
    """dossier id -> (recording id, Asterisk's file name, our copy's path) of stored recordings."""
    rows = stack.psql(
        "SELECT dossier_id, id, provider_ref, path FROM recording WHERE provider = 'asterisk'"
        " AND status = 'stored' AND dossier_id IS NOT NULL ORDER BY id"
    )
    stored: dict[str, list[tuple[str, str, str]]] = {}
    for dossier, recording, ref, path in rows:
        stored.setdefault(dossier, []).append((recording, PurePosixPath(ref).name, path))
    return stored


def _spool(stack: Stack, service: str) -> set[str]:
    """The files of the recordings volume, as `service` sees them."""
    return set(stack.compose("exec", "-T", service, "ls", "-1", SPOOL).stdout.split())


def _ours(stack: Stack, paths: list[str]) -> set[str]:
    """Those of `paths` (relative to the data folder) that exist in tongdai-data."""
    script = 'for p; do [ -e "/var/lib/tongdai/$p" ] && echo "$p"; done; true'
    out = stack.compose("exec", "-T", "web", "bash", "-c", script, "-", *paths).stdout
    return set(out.split())


def test_a_recording_past_retention_is_deleted_from_every_volume_by_the_scheduler(stack):
    stored = _stored(stack)
    assert len(stored) >= 2, stored  # one dossier's recordings aged, the other's kept
    aged_dossier, *kept_dossiers = sorted(stored, key=int)
    aged = stored[aged_dossier]
    kept = [recording for dossier in kept_dossiers for recording in stored[dossier]]
    aged_files, kept_files = {r[1] for r in aged}, {r[1] for r in kept}
    # Before: Asterisk's copies in the recordings volume (seen by Asterisk and by the agi
    # containers), ours in tongdai-data.
    for service in ("asterisk", "agi", "scheduler"):
        assert aged_files | kept_files <= _spool(stack, service), service
    assert _ours(stack, [r[2] for r in aged + kept]) == {r[2] for r in aged + kept}
    dossier_before = stack.psql(f"SELECT code, status FROM dossier WHERE id = {aged_dossier}")

    # Aged past [retention] recording_days of the shipped config.toml; the scheduler leader runs
    # retention a minute after it starts (scheduler/process.py), then every run_hours.
    days = tomllib.loads((REPO / "config.toml").read_text())["retention"]["recording_days"]
    stack.psql(
        f"UPDATE recording SET created_at = created_at - interval '{days + 1} days'"
        f" WHERE dossier_id = {aged_dossier} RETURNING id"
    )
    stack.compose("restart", "scheduler")
    ids = ", ".join(r[0] for r in aged)
    wait_for(
        "the scheduler's retention run",
        lambda: (
            stack.scalar(
                f"SELECT count(*) FROM recording WHERE id IN ({ids}) AND status = 'deleted'"
            )
            == str(len(aged))
        ),
        240,
        interval=2,
    )

    # Gone from every volume; the other dossier's recordings untouched.
    for service in ("asterisk", "agi", "scheduler"):
        left = _spool(stack, service)
        assert not aged_files & left, (service, aged_files & left)
        assert kept_files <= left, service
    assert _ours(stack, [r[2] for r in aged + kept]) == {r[2] for r in kept}
    # The dossier keeps its record: itself, and each recording's row (purpose, length), marked
    # deleted, with an audit event naming both files.
    assert stack.psql(f"SELECT code, status FROM dossier WHERE id = {aged_dossier}") == (
        dossier_before
    )
    rows = stack.psql(
        f"SELECT status, path IS NULL, seconds > 0, purpose <> '' FROM recording"
        f" WHERE id IN ({ids})"
    )
    assert rows == [["deleted", "t", "t", "t"]] * len(aged)
    events = stack.psql(
        "SELECT target_id, details FROM audit_event WHERE action = 'recording.deleted'"
        f" AND target_type = 'recording' AND target_id IN ({', '.join(repr(r[0]) for r in aged)})"
    )
    assert sorted(event[0] for event in events) == sorted(r[0] for r in aged)
    for target, details in events:
        (recording,) = [r for r in aged if r[0] == target]
        assert f"{SPOOL}/{recording[1]}" in details and f"{DATA}/{recording[2]}" in details
    assert _stored(stack).keys() == set(kept_dossiers)
