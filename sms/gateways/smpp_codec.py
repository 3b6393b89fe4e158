"""SMPP 3.4 without the socket: a notice as submit_sm parts, a deliver_sm as a receipt or an
inbound message, and what a command_status means for the outbox.

Kept apart from the bind (sms/gateways/smpp.py) so every rule here is tested with plain values.
The part texts come from `sms.encoding.split_parts`, so what goes out is exactly the segments
`tongdai sms preview` showed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sms.encoding import gsm7_decode, gsm7_encode, is_gsm7, split_parts

UCS2 = 8  # data_coding for UCS-2 (UTF-16BE on the wire)
ESM_UDHI = 0x40  # esm_class: the short message starts with a user data header
ESM_RECEIPT = 0x04  # esm_class message type: SMSC delivery receipt
ESM_TYPE_MASK = 0x3C
TON_INTERNATIONAL, NPI_ISDN = 1, 1

# command_status values (SMPP 3.4 section 5.1.3) that matter to the outbox.
ESME_ROK = 0x00
# Worth another try later: the SMSC (or an aggregator behind it) is busy or not ready.
TRANSIENT_STATUSES = {
    0x08: "system error",
    0x14: "message queue full",
    0x45: "submit failed",
    0x58: "throttled",
    0x64: "temporary application error",
    0x04: "incorrect bind status",
}
# No retry can help: the number, the sender or the message itself is refused.
PERMANENT_STATUSES = {
    0x01: "message length invalid",
    0x0A: "invalid source address",
    0x0B: "invalid destination address",
    0x33: "invalid number of destinations",
    0x43: "invalid esm_class",
    0x48: "invalid source TON",
    0x49: "invalid source NPI",
    0x50: "invalid destination TON",
    0x51: "invalid destination NPI",
    0x61: "invalid scheduled delivery time",
    0x62: "invalid validity period",
    0x65: "permanent application error",
    0x66: "rejected by the application",
}

# Receipt states, from the message_state TLV (section 5.2.28) or the text's `stat:`, as the
# provider statuses sms/receipts.py knows.
_STATE_BY_NUMBER = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
RECEIPT_STATUS = {
    "ENROUTE": "sent",
    "ACCEPTD": "sent",
    "DELIVRD": "delivered",
    "EXPIRED": "undelivered",
    "DELETED": "undelivered",
    "UNDELIV": "undelivered",
    "REJECTD": "undelivered",
}
_RECEIPT_TEXT = re.compile(
    r"id:(?P<id>\S+).*?stat:(?P<stat>[A-Z]+)(?:\s+err:(?P<err>\w+))?", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class SubmitPart:
    """One submit_sm's share of a notice."""

    short_message: bytes
    data_coding: int
    esm_class: int = 0
    tlvs: dict[str, int] = field(default_factory=dict)
    last: bool = True


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt: what became of the message the SMSC called `message_id`."""

    message_id: str
    stat: str  # DELIVRD, UNDELIV, ...
    error: str | None

    @property
    def provider_status(self) -> str | None:
        """Our name for it (sms/receipts.py), or None for a state that says nothing (UNKNOWN)."""
        return RECEIPT_STATUS.get(self.stat)


@dataclass(frozen=True)
class MobileOriginated:
    """A citizen's SMS as the SMSC delivered it."""

    source: str  # as sent: usually international digits without "+"
    destination: str
    text: str
    # One part of a concatenated message: (reference, total, number), from the user data header
    # (IEI 0x00 or 0x08) or the SAR TLVs; None for a whole message.
    concat: tuple[int, int, int] | None = None


def encode_text(text: str, gsm7_data_coding: int) -> tuple[bytes, int]:
    """The octets and data_coding of `text`: GSM-7 text in the configured alphabet, anything else
    as UCS-2 (the same decision `sms.encoding.measure` made when the notice was queued)."""
    if is_gsm7(text):
        if gsm7_data_coding == 0:
            return gsm7_encode(text), 0
        codec = "ascii" if gsm7_data_coding == 1 else "latin-1"
        return text.encode(codec, errors="replace"), gsm7_data_coding
    return text.encode("utf-16-be"), UCS2


def decode_text(octets: bytes, data_coding: int) -> str:
    """Text of a short message. data_coding 0 is read as GSM 03.38 unless it is plain ASCII
    with bytes GSM-7 would not use (some SMSCs send Latin-1 under 0)."""
    if data_coding == UCS2:
        return octets.decode("utf-16-be", errors="replace")
    if data_coding == 3:
        return octets.decode("latin-1")
    if data_coding == 0 and all(octet < 0x80 for octet in octets):
        return gsm7_decode(octets)
    return octets.decode("latin-1")


def submit_parts(
    text: str, *, gsm7_data_coding: int, concatenation: str, reference: int
) -> list[SubmitPart]:
    """The submit_sm short messages for `text`: one, or a concatenated series sharing the 8-bit
    `reference` (UDH IEI 0x00) or carrying the SAR TLVs."""
    texts = split_parts(text) or [""]
    if len(texts) == 1:
        octets, coding = encode_text(texts[0], gsm7_data_coding)
        return [SubmitPart(octets, coding)]
    total = len(texts)
    # Every part in one data_coding: the whole text decided it, not each part alone.
    coding = encode_text(text, gsm7_data_coding)[1]
    parts: list[SubmitPart] = []
    for number, chunk in enumerate(texts, start=1):
        octets = (
            chunk.encode("utf-16-be") if coding == UCS2 else encode_text(chunk, gsm7_data_coding)[0]
        )
        last = number == total
        if concatenation == "sar":
            tlvs = {
                "sar_msg_ref_num": reference & 0xFFFF,
                "sar_total_segments": total,
                "sar_segment_seqnum": number,
            }
            parts.append(SubmitPart(octets, coding, 0, tlvs, last))
        else:
            header = bytes((0x05, 0x00, 0x03, reference & 0xFF, total, number))
            parts.append(SubmitPart(header + octets, coding, ESM_UDHI, {}, last))
    return parts


def validity_period(hours: int) -> str:
    """A relative validity period (`YYMMDDhhmmss000R`)."""
    days, hours = divmod(hours, 24)
    return f"0000{days:02d}{hours:02d}0000000R"


def international(e164: str) -> str:
    """The destination as SMPP wants it with TON 1 / NPI 1: the digits without '+'."""
    return e164.removeprefix("+")


def status_name(status: int) -> str:
    known = TRANSIENT_STATUSES.get(status) or PERMANENT_STATUSES.get(status)
    return f"0x{status:08X} {known}" if known else f"0x{status:08X}"


def is_permanent(status: int) -> bool:
    """A refusal no retry can fix. Unknown statuses are retried: the retry horizon bounds them,
    and a wrong 'permanent' would drop a legally required notice for good."""
    return status in PERMANENT_STATUSES


def receipt_from_state(message_id: str, state: object, error: object = None) -> Receipt:
    """A query_sm_resp's message_state (and error_code) read as a receipt would be."""
    number = int(state) if state is not None else 7  # type: ignore[call-overload]
    return Receipt(
        message_id,
        _STATE_BY_NUMBER.get(number, "UNKNOWN"),
        None if error is None else f"{int(error):03d}",
    )  # type: ignore[call-overload]


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


def strip_udh(short_message: bytes, esm_class: int) -> bytes:
    if esm_class & ESM_UDHI and short_message:
        return short_message[1 + short_message[0] :]
    return short_message


def udh_concat(short_message: bytes, esm_class: int) -> tuple[int, int, int] | None:
    """(reference, total, number) from a user data header's concatenation element: IEI 0x00
    (8-bit reference) or 0x08 (16-bit reference); None when there is none or it is malformed."""
    if not esm_class & ESM_UDHI or not short_message:
        return None
    header = short_message[1 : 1 + short_message[0]]
    at = 0
    while at + 2 <= len(header):
        iei, length = header[at], header[at + 1]
        value = header[at + 2 : at + 2 + length]
        if len(value) < length:
            return None
        if iei == 0x00 and length == 3:
            return value[0], value[1], value[2]
        if iei == 0x08 and length == 4:
            return (value[0] << 8) | value[1], value[2], value[3]
        at += 2 + length
    return None


def _concat(
    short_message: bytes, esm_class: int, sar: tuple[object, object, object] | None
) -> tuple[int, int, int] | None:
    found = udh_concat(short_message, esm_class)
    if found is None and sar is not None and all(value is not None for value in sar):
        found = (int(sar[0]), int(sar[1]), int(sar[2]))  # type: ignore[arg-type]
    if found is None:
        return None
    reference, total, number = found
    # A "series" of one, or a part number outside it, is read as a whole message.
    if total < 2 or not 1 <= number <= total:
        return None
    return found


def parse_deliver(
    *,
    esm_class: int,
    source_addr: object,
    destination_addr: object,
    short_message: bytes | None,
    data_coding: int,
    message_payload: bytes | None = None,
    receipted_message_id: object = None,
    message_state: int | None = None,
    sar: tuple[object, object, object] | None = None,
) -> Receipt | MobileOriginated | None:
    """A deliver_sm as a receipt (esm_class says so) or a citizen's message. The receipt's id
    and state come from the TLVs when present, else from the text form
    `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:…`. None: a receipt we cannot
    read (logged by the caller). A citizen's message that is one part of a long one says so
    (`concat`, from its user data header or the SAR TLVs `sar`: reference, total, number)."""
    octets = short_message or message_payload or b""
    if esm_class & ESM_TYPE_MASK == ESM_RECEIPT:
        body = _text(octets)
        found = _RECEIPT_TEXT.search(body)
        message_id = _text(receipted_message_id) or (found.group("id") if found else "")
        if message_state in _STATE_BY_NUMBER:
            stat = _STATE_BY_NUMBER[message_state]
        else:
            stat = found.group("stat").upper() if found else ""
        error = found.group("err") if found else None
        if not message_id or not stat:
            return None
        return Receipt(message_id, stat, error)
    text = decode_text(strip_udh(octets, esm_class), data_coding)
    concat = _concat(octets, esm_class, sar)
    return MobileOriginated(_text(source_addr), _text(destination_addr), text, concat)
