"""A carrier's SMSC, small but real: an SMPP 3.4 server written with smpplib's PDU classes.

It is the upstream connector Jasmin routes our messages to (and, in the gateway's own tests, the
peer our gateway binds to directly). It accepts binds, answers each submit_sm as the outcome for
its destination says, sends a delivery receipt after a configurable delay, sends
mobile-originated messages to whoever is bound as a receiver, and logs every submit_sm it took
(in memory and, when given a path, as JSON lines, so a test can read it after a crash).

Outcomes per destination (digits as received): `deliver` (DELIVRD), `undeliver` (UNDELIV
receipt), `noreceipt:<STAT>` (accepted, its receipt lost: only `query_sm` tells STAT),
`refuse:<status>` (submit_sm_resp with that command_status, no message id), `silent` (no
response at all), `drop` (close the connection after reading the submit_sm).

`query_sm` is answered with the message's final state (every question is logged in `queries`).
A citizen's long message is sent in parts (`send_mo_parts`), with a user data header (8- or
16-bit reference) or the SAR TLVs, in any order, parts repeated.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import smpplib.smpp

from sms.encoding import gsm7_decode


class _Sequence:
    def __init__(self) -> None:
        self.sequence = 0
        self._lock = threading.Lock()

    def next_sequence(self) -> int:
        with self._lock:
            self.sequence += 1
            return self.sequence


@dataclass
class Submitted:
    """One submit_sm as the carrier took it."""

    message_id: str
    source: str
    source_ton: int
    destination: str
    data_coding: int
    esm_class: int
    octets: bytes  # the short message as received, user data header included
    registered_delivery: int
    validity_period: str
    sar: tuple[int, int, int] | None
    at: float = field(default_factory=time.time)

    @property
    def concat(self) -> tuple[int, int, int] | None:
        """(reference, total, number) from the UDH or the SAR TLVs."""
        if self.esm_class & 0x40 and len(self.octets) >= 6 and self.octets[1] == 0x00:
            return self.octets[3], self.octets[4], self.octets[5]
        return self.sar

    @property
    def body(self) -> bytes:
        if self.esm_class & 0x40:
            return self.octets[1 + self.octets[0] :]
        return self.octets

    @property
    def text(self) -> str:
        if self.data_coding == 8:
            return self.body.decode("utf-16-be")
        if self.data_coding == 0:
            return gsm7_decode(self.body)
        return self.body.decode("latin-1")


def _field(pdu, name: str) -> str:
    value = getattr(pdu, name, None)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


class _Session:
    def __init__(self, carrier: CarrierSimulator, connection: socket.socket) -> None:
        self.carrier = carrier
        self.connection = connection
        self.sequence = _Sequence()
        self.mode: str | None = None
        self.write = threading.Lock()
        self.closed = False

    @property
    def receives(self) -> bool:
        return self.mode in ("bind_transceiver", "bind_receiver")

    def send(self, pdu) -> None:
        with self.write:
            if not self.closed:
                self.connection.sendall(pdu.generate())

    def close(self) -> None:
        self.closed = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    def _read(self) -> bytes | None:
        head = self._exact(4)
        if head is None:
            return None
        (length,) = struct.unpack(">L", head)
        rest = self._exact(length - 4)
        return None if rest is None else head + rest

    def _exact(self, size: int) -> bytes | None:
        chunks = b""
        while len(chunks) < size:
            try:
                chunk = self.connection.recv(size - len(chunks))
            except OSError:
                return None
            if not chunk:
                return None
            chunks += chunk
        return chunks

    def run(self) -> None:
        try:
            while not self.closed:
                raw = self._read()
                if raw is None:
                    break
                pdu = smpplib.smpp.parse_pdu(
                    raw, client=self.sequence, allow_unknown_opt_params=True
                )
                if not self._handle(pdu):
                    break
        finally:
            self.close()
            self.carrier._forget(self)

    def _answer(self, pdu, command: str, status: int = 0, **fields) -> None:
        answer = smpplib.smpp.make_pdu(command, client=self.sequence, status=status, **fields)
        answer.sequence = pdu.sequence
        self.send(answer)

    def _handle(self, pdu) -> bool:
        carrier = self.carrier
        command = pdu.command
        if command.startswith("bind_") and not command.endswith("_resp"):
            ok = (_field(pdu, "system_id"), _field(pdu, "password")) == (
                carrier.system_id,
                carrier.password,
            )
            status = 0 if ok else 0x0E
            if ok and carrier.bind_status:  # e.g. 0x0D: this account's binds are all in use
                ok, status = False, carrier.bind_status
            self.mode = command if ok else None
            self._answer(pdu, f"{command}_resp", status, system_id="CARRIER")
            carrier._log("bind", mode=command, ok=ok)
            if ok and self.receives:
                carrier._release_held()
            return ok
        if command == "submit_sm":
            return self._submit(pdu)
        if command == "query_sm":
            message_id = _field(pdu, "message_id")
            state = carrier._query(message_id)
            if state is None:
                self._answer(pdu, "query_sm_resp", 0x67, message_id=message_id, final_date="",
                             message_state=0, error_code=0)  # fmt: skip
            else:
                self._answer(pdu, "query_sm_resp", message_id=message_id, final_date="",
                             message_state=state, error_code=0 if state == 2 else 1)  # fmt: skip
        elif command == "enquire_link":
            carrier.enquire_links += 1
            self._answer(pdu, "enquire_link_resp")
        elif command == "unbind":
            self._answer(pdu, "unbind_resp")
            return False
        elif command == "deliver_sm_resp":
            carrier._acked(pdu.sequence, int(pdu.status))
        return True

    def _submit(self, pdu) -> bool:
        carrier = self.carrier
        destination = _field(pdu, "destination_addr")
        outcome = carrier.outcome_for(destination)
        if outcome == "drop":
            carrier._log("dropped", destination=destination)
            return False
        if outcome == "silent":
            carrier._log("silent", destination=destination)
            return True
        if outcome.startswith("refuse:"):
            status = int(outcome.split(":", 1)[1], 0)
            self._answer(pdu, "submit_sm_resp", status, message_id="")
            carrier._log("refused", destination=destination, status=status)
            return True
        sar = None
        if getattr(pdu, "sar_msg_ref_num", None) is not None:
            sar = (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum)
        submitted = Submitted(
            message_id=carrier._next_id(),
            source=_field(pdu, "source_addr"),
            source_ton=int(pdu.source_addr_ton or 0),
            destination=destination,
            data_coding=int(pdu.data_coding or 0),
            esm_class=int(pdu.esm_class or 0),
            octets=bytes(pdu.short_message or b""),
            registered_delivery=int(pdu.registered_delivery or 0),
            validity_period=_field(pdu, "validity_period"),
            sar=sar,
        )
        carrier._took(submitted)
        self._answer(pdu, "submit_sm_resp", message_id=submitted.message_id)
        if outcome.startswith("noreceipt:"):
            carrier.states[submitted.message_id] = STATES[outcome.split(":", 1)[1]]
            return True  # the receipt is lost on the way
        carrier.states[submitted.message_id] = STATES[
            "UNDELIV" if outcome == "undeliver" else "DELIVRD"
        ]
        # Any receipt request gets the final receipt, whatever it says (a simplification: 2 asks
        # for failures only in SMPP 3.4, but Jasmin asks upstream with what its client sent).
        if submitted.registered_delivery & 0x03:
            stat = "UNDELIV" if outcome == "undeliver" else "DELIVRD"
            timer = threading.Timer(carrier.receipt_delay, carrier._receipt, (submitted, stat))
            timer.daemon = True
            timer.start()
        return True


# message_state values (SMPP 3.4 5.2.28).
STATES = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8}


class CarrierSimulator:
    """Listens on 127.0.0.1; `start()` returns the port."""

    def __init__(
        self,
        *,
        system_id: str = "carrier",
        password: str = "carrier",
        receipt_delay: float = 0.05,
        log_path: Path | None = None,
    ) -> None:
        self.system_id = system_id
        self.password = password
        self.receipt_delay = receipt_delay
        self.log_path = log_path
        self.outcomes: dict[str, str] = {}
        self.default_outcome = "deliver"
        self.submitted: list[Submitted] = []
        self.mo_acks: dict[int, int] = {}
        self.enquire_links = 0
        self.bind_status = 0  # set: every bind is refused with this command_status
        self.states: dict[str, int] = {}  # message id -> its final message_state
        self.queries: list[str] = []  # the message ids asked about with query_sm
        self._held: list[tuple[Submitted, str]] = []
        self._sessions: list[_Session] = []
        self._lock = threading.Condition()
        self._server: socket.socket | None = None
        self.port = 0
        self._ids = itertools.count(int(time.time() * 1000) % 10**9 * 10 + 10**10)

    def _next_id(self) -> str:
        """Decimal ids, as many SMSCs give: Jasmin 0.11.1 matches a receipt to its message only
        when the id reads the same upper-cased and without leading zeros."""
        return str(next(self._ids))

    # ---- control -------------------------------------------------------------------------------

    def start(self) -> int:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        self.port = server.getsockname()[1]
        threading.Thread(target=self._accept, name="carrier-accept", daemon=True).start()
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            try:
                server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            except OSError:
                pass
            server.close()
        for session in list(self._sessions):
            session.close()

    def outcome_for(self, destination: str) -> str:
        return self.outcomes.get(destination, self.default_outcome)

    def bound(self, receiving: bool = False) -> int:
        with self._lock:
            return sum(1 for s in self._sessions if s.mode and (s.receives or not receiving))

    def send_mo(self, source: str, destination: str, text: str) -> int:
        """A citizen's SMS, to the first bound receiver; returns the deliver_sm's sequence."""
        with self._lock:
            sessions = [s for s in self._sessions if s.receives]
        if not sessions:
            raise RuntimeError("nobody is bound as a receiver")
        session = sessions[0]
        try:
            octets, coding = text.encode("ascii"), 1
        except UnicodeEncodeError:
            octets, coding = text.encode("utf-16-be"), 8
        pdu = smpplib.smpp.make_pdu(
            "deliver_sm",
            client=session.sequence,
            service_type="",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr=source,
            dest_addr_ton=0,
            dest_addr_npi=0,
            destination_addr=destination,
            esm_class=0,
            protocol_id=0,
            priority_flag=0,
            schedule_delivery_time="",
            validity_period="",
            registered_delivery=0,
            replace_if_present_flag=0,
            data_coding=coding,
            sm_default_msg_id=0,
            short_message=octets,
        )
        session.send(pdu)
        self._log("mo", source=source, destination=destination, text=text)
        return pdu.sequence

    def send_mo_parts(
        self,
        source: str,
        destination: str,
        text: str,
        *,
        reference: int,
        concatenation: str = "udh",
        order: list[int] | None = None,
        size: int = 67,
    ) -> list[int]:
        """A citizen's long message in UCS-2 parts of `size` characters, sent in `order` (part
        numbers, repeats allowed; default 1..n): `udh` (IEI 0x00, 8-bit reference), `udh16`
        (IEI 0x08) or `sar` (TLVs). Returns the deliver_sm sequences."""
        chunks = [text[at : at + size] for at in range(0, len(text), size)]
        total = len(chunks)
        sequences = []
        for number in order or list(range(1, total + 1)):
            octets = chunks[number - 1].encode("utf-16-be")
            fields: dict[str, object] = {"esm_class": 0}
            if concatenation == "udh":
                octets = bytes((5, 0x00, 3, reference & 0xFF, total, number)) + octets
                fields["esm_class"] = 0x40
            elif concatenation == "udh16":
                octets = bytes((6, 0x08, 4, reference >> 8 & 0xFF, reference & 0xFF, total,
                                number)) + octets  # fmt: skip
                fields["esm_class"] = 0x40
            else:
                fields.update(sar_msg_ref_num=reference, sar_total_segments=total,
                              sar_segment_seqnum=number)  # fmt: skip
            sequences.append(self._deliver_mo(source, destination, octets, 8, **fields))
            self._log("mo-part", source=source, destination=destination, number=number,
                      total=total)  # fmt: skip
        return sequences

    def _deliver_mo(self, source, destination, octets: bytes, coding: int, **fields) -> int:
        with self._lock:
            sessions = [s for s in self._sessions if s.receives]
        if not sessions:
            raise RuntimeError("nobody is bound as a receiver")
        session = sessions[0]
        values: dict[str, object] = {
            "service_type": "",
            "source_addr_ton": 1,
            "source_addr_npi": 1,
            "source_addr": source,
            "dest_addr_ton": 0,
            "dest_addr_npi": 0,
            "destination_addr": destination,
            "esm_class": 0,
            "protocol_id": 0,
            "priority_flag": 0,
            "schedule_delivery_time": "",
            "validity_period": "",
            "registered_delivery": 0,
            "replace_if_present_flag": 0,
            "data_coding": coding,
            "sm_default_msg_id": 0,
            "short_message": octets,
            **fields,
        }
        pdu = smpplib.smpp.make_pdu("deliver_sm", client=session.sequence, **values)
        session.send(pdu)
        return pdu.sequence

    def wait(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
            return True

    def messages(self) -> list[tuple[str, str, str]]:
        """(source, destination, whole text) of every message taken, concatenated parts joined
        in order once all have arrived."""
        whole: list[tuple[str, str, str]] = []
        groups: dict[tuple[str, str, int], dict[int, Submitted]] = {}
        with self._lock:
            submitted = list(self.submitted)
        for item in submitted:
            concat = item.concat
            if concat is None:
                whole.append((item.source, item.destination, item.text))
                continue
            reference, total, number = concat
            group = groups.setdefault((item.source, item.destination, reference), {})
            group[number] = item
            if len(group) == total:
                text = "".join(group[n].text for n in range(1, total + 1))
                whole.append((item.source, item.destination, text))
        return whole

    # ---- inside --------------------------------------------------------------------------------

    def _accept(self) -> None:
        while self._server is not None:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            session = _Session(self, connection)
            with self._lock:
                self._sessions.append(session)
            threading.Thread(target=session.run, name="carrier-session", daemon=True).start()

    def _forget(self, session: _Session) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)
            self._lock.notify_all()

    def _took(self, submitted: Submitted) -> None:
        with self._lock:
            self.submitted.append(submitted)
            self._lock.notify_all()
        self._log(
            "submit_sm",
            message_id=submitted.message_id,
            source=submitted.source,
            destination=submitted.destination,
            concat=submitted.concat,
            text=submitted.text,
        )

    def _release_held(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for submitted, stat in held:
            self._receipt(submitted, stat)

    def _query(self, message_id: str) -> int | None:
        with self._lock:
            self.queries.append(message_id)
            self._lock.notify_all()
        self._log("query_sm", message_id=message_id)
        return self.states.get(message_id)

    def _acked(self, sequence: int, status: int) -> None:
        with self._lock:
            self.mo_acks[sequence] = status
            self._lock.notify_all()

    def _receipt(self, submitted: Submitted, stat: str) -> None:
        with self._lock:
            sessions = [s for s in self._sessions if s.receives]
            if not sessions:
                # Like an SMSC, keep it for the next bind rather than lose it.
                self._held.append((submitted, stat))
                return
        stamp = dt.datetime.now(dt.UTC).strftime("%y%m%d%H%M")
        delivered = "001" if stat == "DELIVRD" else "000"
        error = "000" if stat == "DELIVRD" else "001"
        text = (
            f"id:{submitted.message_id} sub:001 dlvrd:{delivered} submit date:{stamp} "
            f"done date:{stamp} stat:{stat} err:{error} text:"
        )
        session = sessions[0]
        pdu = smpplib.smpp.make_pdu(
            "deliver_sm",
            client=session.sequence,
            service_type="",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr=submitted.destination,
            dest_addr_ton=0,
            dest_addr_npi=0,
            destination_addr=submitted.source,
            esm_class=0x04,
            protocol_id=0,
            priority_flag=0,
            schedule_delivery_time="",
            validity_period="",
            registered_delivery=0,
            replace_if_present_flag=0,
            data_coding=0,
            sm_default_msg_id=0,
            short_message=text.encode("ascii"),
            receipted_message_id=submitted.message_id,
            message_state=2 if stat == "DELIVRD" else 5,
        )
        try:
            session.send(pdu)
        except OSError:
            return
        self._log("receipt", message_id=submitted.message_id, stat=stat)

    def _log(self, event: str, **values) -> None:
        if self.log_path is None:
            return
        line = json.dumps({"event": event, "at": time.time(), **values}, ensure_ascii=False)
        with self._lock, self.log_path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")
