"""Replays a recorded Asterisk side of a FastAGI call and checks we say exactly what we said."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

TRANSCRIPTS = Path(__file__).parent / "transcripts"
_NAME = re.compile(r"(recording/tongdai/)\d+-[0-9a-f]{12}")


def load(name: str) -> list[tuple[str, str]]:
    entries = []
    for line in (TRANSCRIPTS / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line:
            continue
        entries.append((line[0], line[2:]))
    return entries


async def replay(port: int, name: str, *, request: str | None = None) -> list[str]:
    """Play Asterisk's lines; return the commands we sent that differ from the recording."""
    entries = load(name)
    first_command = next(i for i, (direction, _) in enumerate(entries) if direction == ">")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    headers = [text for _, text in entries[:first_command]]
    if request:
        headers = [
            f"agi_request: {request}" if h.startswith("agi_request:") else h for h in headers
        ]
    writer.write(("\n".join(headers) + "\n\n").encode())
    await writer.drain()
    mismatches: list[str] = []
    try:
        for direction, text in entries[first_command:]:
            if direction == "<":
                writer.write(text.encode() + b"\n")
                await writer.drain()
                continue
            sent = (await asyncio.wait_for(reader.readline(), 15)).decode().rstrip("\n")
            sent = _NAME.sub(r"\1<name>", sent)
            if sent != text:
                mismatches.append(f"expected {text!r}, we sent {sent!r}")
                break
    finally:
        writer.close()
    return mismatches
