"""Deaf time: how long a call has no AGI command listening for keys, from Asterisk's side.

Asterisk drops a key (an RFC 4733 event) that arrives while no AGI command takes keys. A
listening command is a STREAM FILE, CONTROL STREAM FILE or GET OPTION with escape digits, a GET
DATA, a WAIT FOR DIGIT or an EXEC of Read. A deaf gap runs from one listening command's reply to
the next listening command's arrival. Prompts played without escape digits and recordings are
deaf by design (the caller is told to listen or to speak), so their playing time is left out:
what remains is the server's own time between commands (the flow, the database, the network),
the window in which a caller who types ahead loses a key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench._common import Summary, summarize

_ESCAPED = re.compile(r'^(?:CONTROL )?STREAM FILE \S+ "([^"]*)"|^GET OPTION \S+ "([^"]*)"')


def listening(command: str) -> bool:
    """Whether Asterisk takes keys while it runs this AGI command."""
    upper = command.upper()
    if upper.startswith(("WAIT FOR DIGIT", "GET DATA")):
        return True
    if upper.startswith("EXEC READ"):
        return True
    match = _ESCAPED.match(command)
    return bool(match and (match[1] or match[2]))


def _media(command: str) -> bool:
    """A command whose run time is the caller hearing or speaking, not the server working."""
    return command.upper().startswith(
        ("STREAM FILE", "CONTROL STREAM FILE", "GET OPTION", "RECORD FILE", "EXEC PLAYBACK")
    )


def deaf_gaps(timeline: Sequence[tuple[float, float, str]]) -> list[float]:
    """The deaf gaps of one call, in seconds, from its (received, replied, command) timeline."""
    return [gap for gap, _label in labelled_gaps(timeline)]


def labelled_gaps(timeline: Sequence[tuple[float, float, str]]) -> list[tuple[float, str]]:
    """Each deaf gap with where it was: `<listening command> -> <next listening command>`,
    with the media commands between them (a recording, a prompt without escape digits)."""
    gaps: list[tuple[float, str]] = []
    since: float | None = None  # the last listening command's reply
    designed = 0.0  # playing and recording time since then
    path: list[str] = []
    for received, replied, command in timeline:
        if listening(command):
            if since is not None:
                label = " -> ".join([*path, _short(command)])
                gaps.append((max(0.0, received - since - designed), label))
            since, designed, path = replied, 0.0, [_short(command)]
        elif since is not None and _media(command):
            designed += replied - received
            path.append(_short(command))
    return gaps


def _short(command: str) -> str:
    """`STREAM FILE tongdai/main_menu "0123"` -> `STREAM FILE tongdai/main_menu`."""
    words = command.split()
    if command.upper().startswith(("STREAM FILE", "GET DATA", "RECORD FILE")):
        text = " ".join(words[:3])  # the command and its file
        return text.split("/recording/")[0] + "/recording/..." if "/recording/" in text else text
    return " ".join(words[:3] if command.upper().startswith("WAIT") else words[:2])


def worst_gaps(timelines, count: int = 5) -> list[str]:
    """The `count` longest deaf gaps of all calls, with where they were."""
    every = [gap for timeline in timelines for gap in labelled_gaps(timeline)]
    every.sort(key=lambda item: -item[0])
    return [f"{gap * 1000:.0f} ms: {label}" for gap, label in every[:count]]


@dataclass(frozen=True)
class DeafReport:
    gaps: Summary  # every gap of every call
    per_call_p95: Summary  # the calls' own p95
    per_call_max: Summary  # the calls' own maximum
    over_50ms: int  # gaps of 50 ms or more

    def lines(self) -> list[str]:
        ms = 1000
        return [
            f"deaf gaps: {self.gaps.count} between listening commands, p50 "
            f"{self.gaps.p50 * ms:.1f} ms, p95 {self.gaps.p95 * ms:.1f} ms, p99 "
            f"{self.gaps.p99 * ms:.1f} ms, max {self.gaps.max * ms:.0f} ms; "
            f"{self.over_50ms} of 50 ms or more",
            f"deaf time per call ({self.per_call_p95.count} calls): p95 median "
            f"{self.per_call_p95.p50 * ms:.1f} ms, worst {self.per_call_p95.max * ms:.0f} ms; "
            f"max median {self.per_call_max.p50 * ms:.0f} ms, worst "
            f"{self.per_call_max.max * ms:.0f} ms",
        ]


def deaf_report(calls: Iterable[Sequence[float]]) -> DeafReport:
    """Overall and per-call figures from each call's deaf gaps."""
    per_call = [sorted(gaps) for gaps in calls if gaps]
    every = [gap for gaps in per_call for gap in gaps]
    p95s = [summarize(gaps).p95 for gaps in per_call]
    maxes = [gaps[-1] for gaps in per_call]
    return DeafReport(
        summarize(every),
        summarize(p95s),
        summarize(maxes),
        sum(gap >= 0.05 for gap in every),
    )
