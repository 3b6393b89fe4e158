"""Checks TwiML against Twilio's published verb/attribute lists (twiml/twiml_voice_attrs.json)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

SPEC = json.loads((Path(__file__).parent / "twiml" / "twiml_voice_attrs.json").read_text())
# Which verbs may appear inside which (Twilio's TwiML docs); the top level is <Response>.
NESTING = {
    "Response": {"Say", "Play", "Pause", "Gather", "Record", "Redirect", "Dial", "Hangup",
                 "Reject", "Enqueue", "Leave", "Connect", "Start", "Stop", "Refer", "Sms"},
    "Gather": {"Say", "Play", "Pause"},
    "Dial": {"Number", "Client", "Conference", "Queue", "Sip", "Sim", "Application"},
}  # fmt: skip


def _value_ok(kind: str, value: str) -> bool:
    if kind == "string":
        return True
    if kind == "boolean":
        return value in ("true", "false")
    if kind == "number":
        return value.lstrip("-").replace(".", "", 1).isdigit()
    if kind.endswith("[]"):
        allowed = SPEC["enums"][kind[:-2]]
        return all(part in allowed for part in value.split())
    return value in SPEC["enums"].get(kind, [])


def problems(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)
    found: list[str] = []
    if root.tag != "Response":
        return [f"root is <{root.tag}>, not <Response>"]

    def visit(element: ET.Element, parent: str) -> None:
        for child in element:
            if child.tag not in NESTING.get(parent, set()):
                found.append(f"<{child.tag}> may not be inside <{parent}>")
            attributes = SPEC["attributes"].get(child.tag)
            if attributes is None:
                found.append(f"unknown verb <{child.tag}>")
                continue
            for name, value in child.attrib.items():
                kind = attributes.get(name)
                if kind is None:
                    found.append(f"<{child.tag}> has no attribute {name!r}")
                elif not _value_ok(kind, value):
                    found.append(f"<{child.tag} {name}={value!r}> is not a valid {kind}")
            visit(child, child.tag)

    visit(root, "Response")
    return found
