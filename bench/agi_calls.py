"""The FastAGI ladder: N simultaneous licence calls paced as real calls are.

The server runs as `tongdai agi` (its own process) on a throw-away PostgreSQL database; each
caller is a scripted Asterisk (tests/ivr/asterisk/fake_asterisk.py) walking today's new-licence
call (bench/licence_call.py) at a real call's pace: every STREAM FILE plays for its prompt file's
length (the built prompt audio), the caller answers 1-3 s after the question ends and types
further digits 0.25 s apart, recordings last their length and the call ends in silence while
the code is read out. Calls start at random over `--ramp` (120) seconds, less than a call lasts
(about 200 s), so all of them are in progress together before the first ends, and their
submits are spread as real arrivals would be rather than bunched on the code counter in a
few seconds (`--ramp 10` shows that burst); each rung waits for all of its calls to end.

Per rung it prints the server's added latency per AGI command (from our reply to its next
command: the flow, the database and the event loop) p50/p95/p99/max against the target
p99 < 20 ms, errors, whole calls filed with every answer saved and their distinct codes, the
deaf time (bench/deaf_gaps.py) overall and per call, the flow steps behind the latency from the
server's own line per call (time queued for a step thread apart from time running in it),
CPU by process and the AGI process's resident memory, the callers' own event-loop lag, and the
latency grouped by the command answered before it.

    .venv/bin/python bench/agi_calls.py                    # 100, 250, 500 calls: ~17 minutes
    .venv/bin/python bench/agi_calls.py --calls 500        # one rung: ~6 minutes
    .venv/bin/python bench/agi_calls.py --quick            # 10 calls at 10x speed: ~30 s

`--no-recording-files`: the fake Asterisk writes no WAV, so the server finds none to turn into
MP3 (it keeps the recording's length from Asterisk's reply): the flow and the database alone.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    CpuWindow,
    config_with,
    free_port,
    percentile,
    status_kib,
    stop_server,
    summarize,
    throwaway_database,
    wait_until,
)
from bench.deaf_gaps import deaf_gaps, deaf_report, worst_gaps  # noqa: E402
from bench.licence_call import (  # noqa: E402
    Answer,
    check_filed,
    context_of,
    new_licence,
    rehearse,
    vessel_number,
)
from tests.ivr.asterisk.fake_asterisk import (  # noqa: E402
    SILENCE,
    FakeAsterisk,
    Speak,
    Think,
)

TARGET_P99 = 0.020
KEY_GAP = 0.25  # seconds between the digits of one answer


def paced_script(answers: list[Answer], rng: random.Random, scale: float) -> list:
    """The fake Asterisk's script: think 1-3 s before each answer, then its keys or speech."""
    script: list = []
    for answer in answers:
        if answer.silent:
            script.append(SILENCE)
            continue
        script.append(Think(rng.uniform(1.0, 3.0) * scale))
        if answer.spoken:
            script.append(Speak(answer.spoken))
            continue
        for number, key in enumerate(answer.keys):
            if number:
                script.append(Think(KEY_GAP * scale))
            script.append(key)
    return script


class Durations:
    """Seconds each STREAM FILE plays: the prompt manifest's, else the WAV's own length (a
    prompt assembled from parts), else 1 s (counted as unknown)."""

    def __init__(self, prompts_dir: Path, prefix: str, scale: float) -> None:
        import json

        manifest = json.loads((prompts_dir / "manifest.json").read_text(encoding="utf-8"))
        self.seconds = {f"{prefix}/{key}": entry["seconds"] for key, entry in manifest.items()}
        self.asterisk_dir = prompts_dir / "asterisk"
        self.prefix = prefix
        self.scale = scale
        self.unknown: set[str] = set()

    def __call__(self, name: str) -> float:
        if name not in self.seconds:
            self.seconds[name] = self._from_file(name)
        return self.seconds[name] * self.scale

    def _from_file(self, name: str) -> float:
        stem = name.removeprefix(self.prefix + "/")
        for path in (self.asterisk_dir / f"{stem}.wav", Path(f"{name}.wav")):
            try:
                with wave.open(str(path)) as audio:
                    return audio.getnframes() / audio.getframerate()
            except (OSError, wave.Error, EOFError):
                continue
        self.unknown.add(name)
        return 1.0


async def rung(port: int, calls: int, offset: int, durations: Durations, ramp: float,
               scale: float, recordings: Path | None, seed: int):  # fmt: skip
    rng = random.Random(seed)
    fakes = [
        FakeAsterisk(
            port,
            callerid=f"091{offset + i:07d}",
            uniqueid=f"{offset + i}.1",
            script=paced_script(list(new_licence(vessel_number(offset + i))), rng, scale),
            recording_dir=recordings,
            timed=True,
            durations=durations,
        )
        for i in range(calls)
    ]

    async def one(fake: FakeAsterisk, delay: float):
        await asyncio.sleep(delay)
        return await fake.call()

    delays = sorted(rng.uniform(0, ramp) for _ in fakes)
    lag = LoopLag()
    watching = asyncio.create_task(lag.watch())
    started = time.perf_counter()
    results = await asyncio.gather(
        *(one(fake, delay) for fake, delay in zip(fakes, delays, strict=True)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    watching.cancel()
    errors = [result for result in results if isinstance(result, BaseException)]
    ended = sum(
        1 for fake in fakes if fake.variables.get("TONGDAI_NEXT") == "hangup" and fake.script == []
    )
    return fakes, errors, ended, elapsed, lag


class LoopLag:
    """How late the callers' own event loop wakes a task. The latency above is timed by the
    callers, so a caller whose reply sits unread while the loop serves other callers counts
    that wait as the server's: this is the measuring side's share, printed beside it."""

    TICK = 0.005

    def __init__(self) -> None:
        self.late: list[float] = []

    async def watch(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self.TICK)
            self.late.append(max(0.0, time.perf_counter() - asked - self.TICK))


def command_kind(command: str) -> str:
    """`EXEC Read`, `GET VARIABLE`, `RECORD FILE`...: the command without its arguments."""
    words = command.split()
    return " ".join(words[:3] if words[:1] == ["WAIT"] else words[:2])


def latency_by_previous(fakes) -> list[str]:
    """The added latency grouped by the command answered just before it: after `GET VARIABLE`
    (the keys of a question) the server runs a flow step, after `RECORD FILE` it stores the
    recording and runs one, after `EXEC Read` it only asks for the keys. Shows which waits
    make the tail."""
    groups: dict[str, list[float]] = {}
    for fake in fakes:
        commands = ["(call start)"] + [command_kind(command) for command, _ in fake.transcript]
        for previous, latency in zip(commands, fake.latencies, strict=False):
            groups.setdefault(previous, []).append(latency)
    everything = sorted(value for values in groups.values() for value in values)
    if not everything:
        return []
    tail = percentile(everything, 99)
    lines = []
    for previous, values in sorted(groups.items(), key=lambda item: -len(item[1])):
        figures = summarize(values)
        in_tail = sum(1 for value in values if value >= tail)
        lines.append(
            f"  after {previous}: {figures.count} commands, p50 {figures.p50 * 1000:.1f} ms, p99 "
            f"{figures.p99 * 1000:.1f} ms, max {figures.max * 1000:.0f} ms; {in_tail} of the "
            f"slowest 1 %"
        )
    return lines


# The server's line per call (ivr/asterisk/agi_server.py, `_report_deaf_time`).
_STEPS_LINE = re.compile(
    r"flow steps p95 ([\d.]+) ms, max ([\d.]+) ms; queued for a thread p95 ([\d.]+) ms, "
    r"max ([\d.]+) ms"
)


class StepLines:
    """Reads the server's log (at INFO): keeps each call's flow-step figures, passes on
    everything above INFO (warnings, errors, tracebacks) to our stderr as before."""

    def __init__(self, stream) -> None:
        self.calls: list[tuple[float, ...]] = []  # (step p95, step max, queued p95, queued max)
        self._stream = stream
        self._thread = threading.Thread(target=self._read, name="agi-log", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            if match := _STEPS_LINE.search(line):
                self.calls.append(tuple(float(value) for value in match.groups()))
            elif " INFO " not in line[:40]:
                sys.stderr.write(line)

    def take(self) -> list[tuple[float, ...]]:
        """The calls logged since the last take (a rung's)."""
        taken, self.calls = self.calls, []
        return taken


def steps_report(calls: list[tuple[float, ...]]) -> str:
    if not calls:
        return "flow steps: no line per call in the server's log"
    step_p95, step_max, queued_p95, queued_max = (
        summarize(column) for column in zip(*calls, strict=True)
    )
    return (
        f"flow steps per call (server's log, {len(calls)} calls): queued for a thread p95 "
        f"median {queued_p95.p50:.1f} ms, worst {queued_max.max:.0f} ms; running p95 median "
        f"{step_p95.p50:.1f} ms, worst {step_max.max:.0f} ms"
    )


def ps_line(classify_pids: dict[int, str]):
    def classify(pid: int, comm: str) -> str:
        if pid in classify_pids:
            return classify_pids[pid]
        if comm.startswith("postgres"):
            return "postgres (other databases and background)"
        return "other"

    return classify


def children_cpu(pid: int) -> float:
    """CPU seconds of the children `pid` has waited for (cutime + cstime): its ffmpeg runs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def our_backends(database_url: str) -> list[int]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(
                connection.scalars(
                    sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )
            )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="100,250,500", help="comma-separated rungs")
    parser.add_argument(
        "--ramp", type=float, default=120.0,
        help="seconds over which calls start (less than a call's ~200 s: all overlap at the end)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="10 calls, everything 10x faster")
    parser.add_argument(
        "--no-recording-files", action="store_true",
        help="write no WAV for the recordings: the server then converts none to MP3",
    )  # fmt: skip
    args = parser.parse_args()
    sizes = [int(n) for n in args.calls.split(",")]
    scale = 1.0
    if args.quick:
        sizes, scale, args.ramp = [10], 0.1, 1.0

    os.environ.setdefault("TONGDAI_CONFIG", str(ROOT / "config.toml"))
    os.environ.setdefault("TONGDAI_DATA_DIR", str(ROOT / "var"))
    from ivr.audio import PromptFiles, build_prompts
    from tongdai.startup import load_checked_settings

    settings = load_checked_settings()
    rehearse(context_of(settings, dt.date.today()), new_licence())
    build = build_prompts(settings, progress=False)
    prompts = PromptFiles.of(settings).root
    durations = Durations(prompts, settings.asterisk.sounds_prefix, scale)

    with throwaway_database("tongdai_bench_agi") as url, tempfile.TemporaryDirectory() as data:
        recordings = Path(data) / "spool"
        recordings.mkdir()
        source = Path(os.environ["TONGDAI_CONFIG"])
        config = config_with(source, Path(data), "recording_dir_local", f'"{recordings}"')
        (Path(data) / "prompts").symlink_to(prompts)  # prompts assembled by the server, if any
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "TONGDAI_CONFIG": str(config),
            "TONGDAI_DATA_DIR": data,
            "TONGDAI_SECRET_KEY": "bench",
            "TONGDAI_LOG_LEVEL": "INFO",  # for the line per call; StepLines passes on the rest
        }
        env.pop("TONGDAI_AMI_URL", None)
        subprocess.run([sys.executable, "-m", "tongdai", "db", "upgrade"], env=env, cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "tongdai", "agi", "--port", str(port)], env=env, cwd=ROOT,
            stderr=subprocess.PIPE, text=True, errors="replace",
        )  # fmt: skip
        steps = StepLines(server.stderr)
        try:
            if not wait_until(lambda: _listening(port), 30):
                raise SystemExit("the AGI server did not start")
            print(
                f"FastAGI server pid {server.pid} on PostgreSQL; {os.cpu_count()} cores, load "
                f"average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; prompts: "
                f"{build.built} built, {build.skipped} up to date; time scale {scale:g}; "
                f"calls start over {args.ramp:g} s; recordings "
                f"{'without' if args.no_recording_files else 'with'} WAV files"
            )
            offset = 0
            for size in sizes:
                groups = {server.pid: "fastagi", os.getpid(): "callers"}
                window = CpuWindow(ps_line(groups)).start()
                children = children_cpu(server.pid)
                fakes, errors, ended, elapsed, lag = asyncio.run(
                    rung(
                        port,
                        size,
                        offset,
                        durations,
                        args.ramp,
                        scale,
                        recordings,
                        args.seed + offset,
                    )  # fmt: skip
                )
                groups.update({pid: "postgres (ours)" for pid in our_backends(url)})
                window.stop()
                converting = children_cpu(server.pid) - children
                load = os.getloadavg()
                filed = check_filed(url, [vessel_number(offset + i) for i in range(size)])
                offset += size
                _report(size, fakes, errors, ended, elapsed, filed, window, server.pid, load)
                late = summarize(lag.late)
                print(
                    f"the callers' own event loop woke tasks late by p50 {late.p50 * 1000:.2f} "
                    f"ms, p99 {late.p99 * 1000:.2f} ms, max {late.max * 1000:.0f} ms (counted "
                    f"in the latency above as if the server's)"
                )
                print("added latency by the command answered before it:")
                for line in latency_by_previous(fakes):
                    print(line)
                print(
                    f"of which the FastAGI process's children (ffmpeg, inside `ended`): "
                    f"{converting / (window.seconds * (os.cpu_count() or 1)):.0%}"
                )
                time.sleep(0.5)  # the last calls' lines, written as their connections closed
                print(steps_report(steps.take()))
            if durations.unknown:
                print(f"prompts of unknown length (played as 1 s): {sorted(durations.unknown)}")
        finally:
            stop_server(server)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _report(size, fakes, errors, ended, elapsed, filed, window, pid, load) -> None:
    latencies = summarize([value for fake in fakes for value in fake.latencies])
    verdict = "PASS" if latencies.p99 < TARGET_P99 and not errors else "FAIL"
    commands = sum(len(fake.timeline) for fake in fakes)
    print(
        f"\n== {size} simultaneous calls: {elapsed:.0f} s, {commands} AGI commands "
        f"({commands / elapsed:.0f}/s), load average {load[0]:.2f} {load[1]:.2f} at the end"
    )
    print(
        f"added latency per command: p50 {latencies.p50 * 1000:.2f} ms, p95 "
        f"{latencies.p95 * 1000:.2f} ms, p99 {latencies.p99 * 1000:.2f} ms, max "
        f"{latencies.max * 1000:.0f} ms; {verdict} against p99 < {TARGET_P99 * 1000:.0f} ms"
    )
    kinds: dict[str, int] = {}
    for error in errors:
        kinds[type(error).__name__] = kinds.get(type(error).__name__, 0) + 1
    print(f"errors: {len(errors)} {kinds or ''}; calls ended by the server's goodbye: "
          f"{ended}/{size}; {filed.line()}")  # fmt: skip
    for line in deaf_report(deaf_gaps(fake.timeline) for fake in fakes).lines():
        print(line)
    print("longest deaf gaps:")
    for line in worst_gaps(fake.timeline for fake in fakes):
        print(f"  {line}")
    print(f"CPU (share of all cores over {window.seconds:.0f} s): {window.shares()}")
    rss, hwm = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
    if rss and hwm:
        print(f"AGI process resident memory: {rss / 1024:.0f} MiB now, peak {hwm / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
