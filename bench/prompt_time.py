"""How long the IVR talks during a happy-path application: a fishing licence (new and re-issue)
and a vessel safety certificate, with each procedure's phone questions from config.toml.

Walks the real flow engine with plausible answers, collects every prompt it plays and adds up
their durations from the prompt manifest (building the prompts first; the build is incremental).
Prints the prompts heard and the keys pressed. The target is under 2.5 minutes of prompts per
application.

    .venv/bin/python bench/prompt_time.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.licence_call import NEW_LICENCE  # noqa: E402
from ivr import engine  # noqa: E402
from ivr.audio import PromptFiles, build_prompts  # noqa: E402
from ivr.prompts import part_keys  # noqa: E402
from tongdai.startup import load_checked_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 150.0

FEES = {"fishing_licence:new": 40000, "fishing_licence:reissue": 20000, "vessel_safety:new": 0}
ANSWERS = {
    "resumable_draft": engine.Outcome("no"),
    "caller_has_mobile": engine.Outcome("yes"),
}
# What the call ends with: a licence always lacks what a keypad cannot give (the certificate
# number, the gear), so it hears what is missing and no date; a safety certificate is complete.
SUBMITTED = {
    "fishing_licence": engine.Outcome("ok", data={
        "spoken_code": "2612010001", "due": None,
        "missing": ["safety_certificate_number", "main_gear"]}),
    "vessel_safety": engine.Outcome("ok", data={
        "spoken_code": "2612010002", "due": "2026-12-08", "missing": []}),
}  # fmt: skip
# Today's new licence, the answers every bench walks (bench/licence_call.py).
NEW = tuple(answer.event("90617", f"rec-{i}") for i, answer in enumerate(NEW_LICENCE))
REISSUE = (*NEW[:1], engine.Keys("2"), engine.Keys("1"), *NEW[2:])  # re-issue, licence lost
# The safety certificate: no variant, no date of birth (config.toml phone_questions).
SAFETY = (engine.Keys("2"), *NEW[2:7], *NEW[9:])


@dataclass(frozen=True)
class Walk:
    prompts: int  # Play / RecordAnswer / Hangup actions, each one prompt the caller hears
    keys: list[str]  # the audio files played, in order
    recorded_seconds: float  # the caller's own spoken answers
    presses: int  # keys the caller pressed (each digit, # and *)


def walk(events: Iterable[engine.Event], context: engine.Context, procedure: str) -> Walk:
    """Drive the engine through `events`, answering every Ask; fail loudly off the happy path."""
    answers = {**ANSWERS, "submit": SUBMITTED[procedure]}
    state, prompts, keys, recorded, presses = engine.new_state(), 0, [], 0.0, 0
    pending: list[engine.Event] = [engine.Start(), *events]
    while pending:
        event = pending.pop(0)
        if isinstance(event, engine.Recorded):
            recorded += event.seconds
            presses += 1  # the # that ends the recording
        if isinstance(event, engine.Keys):
            presses += len(event.digits)
        actions, state = engine.step(state, event, context)
        for action in engine.telephony(actions):
            prompts += 1
            keys += part_keys(action.parts)
        asks = [action for action in actions if isinstance(action, engine.Ask)]
        if asks:
            pending.insert(0, answers[asks[0].question])
    if not state["done"] or state["node"] != "goodbye":
        raise SystemExit(f"the walk ended at {state['node']!r}, not at 'goodbye'")
    return Walk(prompts, keys, recorded, presses)


def report(name: str, result: Walk, files: PromptFiles) -> None:
    seconds = files.duration_of(result.keys)
    words = files.duration_of([key for key in result.keys if key.startswith("word_")])
    verdict = "meets" if seconds < TARGET_SECONDS else "MISSES"
    print(
        f"{name}: {result.prompts} prompts ({len(result.keys)} audio files), "
        f"{result.presses} key presses, "
        f"{seconds:.1f} s = {seconds / 60:.2f} min of prompts ({words:.1f} s of it numbers "
        f"read back); {verdict} the {TARGET_SECONDS / 60:g} min target"
    )


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    os.environ.setdefault("TONGDAI_CONFIG", str(ROOT / "config.toml"))
    os.environ.setdefault("TONGDAI_DATA_DIR", str(ROOT / "var"))
    settings = load_checked_settings()
    build = build_prompts(settings, progress=True)
    files = PromptFiles.of(settings)
    print(f"prompts: {build.built} built, {build.skipped} up to date, {build.recorded} recorded")
    context = engine.Context(
        home_province="QNg",
        caller_national="0912345678",
        fees=FEES,
        hotline="02553822222",
        phone_questions={code: p.phone_questions for code, p in settings.procedures.items()},
        today=dt.date(2026, 12, 1),
    )
    new = walk(NEW, context, "fishing_licence")
    reissue = walk(REISSUE, context, "fishing_licence")
    safety = walk(SAFETY, context, "vessel_safety")
    report("new fishing licence", new, files)
    report("re-issued fishing licence", reissue, files)
    report("vessel safety certificate", safety, files)
    every = set(new.keys) | set(reissue.keys) | set(safety.keys)
    longest = sorted(every, key=lambda key: -files.duration_of([key]))
    print(
        "longest on the path: "
        + ", ".join(f"{key} {files.duration_of([key]):.1f} s" for key in longest[:5])
    )
    print(
        f"Not included: the caller's think and typing time, and their {new.recorded_seconds:g} s "
        "of spoken answers; a caller who presses keys during a prompt cuts it short; the "
        f"{engine.Context.timeout} s the end of the call waits for `*` before the goodbye."
    )


if __name__ == "__main__":
    main()
