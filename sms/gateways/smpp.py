"""SMPP 3.4 as an SmsGateway: the long-lived bind to a Vietnamese carrier or aggregator.

The library is `smpplib` (README, "SMPP"): it encodes and decodes the PDUs and owns the
socket; what it leaves to us, and this module does, is the bind's life and the outbox's rules:

- A process that builds the gateway (a `tongdai scheduler`, or `tongdai run`) binds while it
  holds one of the account's bind slots (`slots`: `max_binds` shared through the database;
  the others stand by): one transceiver, or a transmitter and a receiver (`bind = "pair"`).
  A thread per bind connects, binds, reads every PDU, answers `enquire_link`, sends its own
  when the line is quiet, and on any loss reconnects with a fresh bind after a capped, jittered
  backoff (the longest when the SMSC says the account's binds are used up: state `refused`).
- `query` (query_sm) asks about a message the SMSC accepted (sms/receipt_queries.py).
- `send` is called by one dispatcher thread at a time today, and waits for each part's
  `submit_sm_resp`; it is thread-safe, and up to `window` submits per bind may be outstanding
  when several threads send (bench/smpp.py measures windows 1 and 10 that way).
- A `submit_sm` written whose response never came (the bind dropped, or the response timed
  out) has no message id to ask about: UncertainSendError, so the notice becomes `unknown` for
  staff and is never resent. The gateway has no `lookup` on purpose.
- A refused part is classified from its command_status (smpp_codec). A long notice whose later
  part is refused after earlier parts were accepted fails for good rather than being resent
  whole (the citizen already has the first part).
- `deliver_sm` (receipts and citizens' messages) goes to `on_delivery`, which stores it and
  says whether it did: if not, the SMSC gets a temporary error and delivers it again.
  A receipt can overtake our own "sent" commit: the gateway remembers which notice each
  recent message id belongs to and passes it along (sms/smpp_deliveries.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from intake.phone import mask_phone
from plumbing.settings import SmppSettings
from sms.gateways.base import (
    Accepted,
    OutgoingSms,
    PermanentSendError,
    TransientSendError,
    UncertainSendError,
)
from sms.gateways.smpp_codec import (
    NPI_ISDN,
    TON_INTERNATIONAL,
    MobileOriginated,
    Receipt,
    international,
    is_permanent,
    parse_deliver,
    receipt_from_state,
    status_name,
    submit_parts,
    validity_period,
)

log = logging.getLogger(__name__)

ESME_RX_T_APPN = 0x64  # our answer to a deliver_sm we could not store: "try again later"
THROTTLED = 0x58
# How many message ids (and their notices) a gateway remembers for receipts that overtake the
# dispatcher's commit; a receipt older than that finds the notice by its stored provider id.
RECENT_IDS = 10_000
# A later part throttled after earlier parts went: wait and try it again, this many times.
PART_RETRIES = 5

# The SMSC's answers to a bind that mean "this account has its binds already": wait longer.
BIND_REFUSALS = {0x05: "ESME_RALYBND already bound", 0x0D: "ESME_RBINDFAIL bind failed"}
# query_sm answers meaning the SMSC does not do query_sm at all: stop asking.
QUERY_UNSUPPORTED = {0x03: "ESME_RINVCMDID invalid command"}
# How often a process holding a bind slot checks it still does, and one standing by retries.
SLOT_CHECK_SECONDS = 5.0

# on_delivery(receipt or message, the notice a receipt's id was sent for if known) -> stored?
DeliveryHandler = Callable[[Receipt | MobileOriginated, int | None], bool]


class BindSlots(Protocol):
    """Which processes may bind (plumbing.leader.Slots): `hold` returns the slot this process
    holds, taking a free one if it can, or None; `release` gives it up."""

    def hold(self) -> int | None: ...

    def release(self) -> None: ...


class _Lost(Exception):
    """The submit_sm was written but no response came."""


class _NotWritten(Exception):
    """Nothing was written: the bind is down."""


@dataclass
class _Waiter:
    event: threading.Event
    status: int | None = None
    message_id: str = ""
    answer: Any = None  # the response PDU


class _Bind:
    """One SMPP session: its thread keeps it bound and reads every PDU."""

    def __init__(self, gateway: SmppGateway, mode: str) -> None:
        self.gateway = gateway
        self.mode = mode  # transceiver, transmitter, receiver
        self.state = "down"
        self.since = dt.datetime.now(dt.UTC)
        self.last_error: str | None = None
        self.binds = 0  # successful binds since start (reconnects show as > 1)
        self.peak_outstanding = 0  # most submit_sm awaiting their response at once
        self._client: smpplib.client.Client | None = None
        self._bound = threading.Event()
        self._write = threading.Lock()
        self._window = threading.BoundedSemaphore(gateway.settings.window)
        self._waiting: dict[int, _Waiter] = {}
        self._thread = threading.Thread(target=self._run, name=f"smpp-{mode}", daemon=True)

    @property
    def transmits(self) -> bool:
        return self.mode != "receiver"

    def start(self) -> None:
        self._thread.start()

    def _set_state(self, state: str, error: str | None = None) -> None:
        if state != self.state:
            self.state = state
            self.since = dt.datetime.now(dt.UTC)
        if error is not None:
            self.last_error = error

    def wait_bound(self, timeout: float) -> bool:
        return self._bound.wait(timeout)

    # ---- the session's thread ------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self.gateway.closed.is_set():
            if not self.gateway._may_bind():
                # Another process holds the account's binds: stand by, ask again later.
                self._set_state("standby", self.gateway.standby_reason())
                self.gateway.closed.wait(SLOT_CHECK_SECONDS)
                continue
            self._set_state("connecting")
            try:
                self._connect_and_bind()
            except smpplib.exceptions.PDUError as e:
                status = e.args[1] if len(e.args) > 1 else None
                if status in BIND_REFUSALS:
                    # The SMSC counts this account's binds as used up (ours from before a crash
                    # that it has not noticed yet, or another process's): a quick retry only
                    # adds to them. Wait the longest backoff.
                    self._drop(None)
                    reason = (
                        f"bind refused by the SMSC: {BIND_REFUSALS[status]} (0x{status:02X}"
                        f"); the account's bind limit (max_binds) may be reached"
                    )
                    self._set_state("refused", reason)
                    log.error("smpp: %s %s", self.mode, reason)
                    failures = max(failures + 1, 10)
                else:
                    self._drop(f"bind failed: {e}")
                    failures += 1
            except (OSError, smpplib.exceptions.ConnectionError) as e:
                self._drop(f"bind failed: {e}")
                failures += 1
            except Exception as e:  # whatever goes wrong, the thread lives and binds again
                log.exception("smpp: %s bind failed", self.mode)
                self._drop(f"bind failed: {e!r}")
                failures += 1
            else:
                failures = 0
                try:
                    self._read_until_lost()
                except Exception as e:  # an unreadable PDU: a fresh bind beats a dead thread
                    log.exception("smpp: %s bind broken", self.mode)
                    self._drop(f"unexpected: {e!r}")
            if self.gateway.closed.is_set():
                break
            delay = min(self.gateway.settings.reconnect_max_seconds, 0.5 * 2 ** min(failures, 10))
            self.gateway.closed.wait(delay * random.uniform(0.5, 1.0))
        self._drop(None)
        self._set_state("closed")

    def _connect_and_bind(self) -> None:
        settings = self.gateway.settings
        client = smpplib.client.Client(
            settings.host,
            settings.port,
            timeout=settings.response_timeout_seconds,
            allow_unknown_opt_params=True,
            logger_name="sms.gateways.smpp.wire",
        )
        self._client = client
        client.connect()
        bind = getattr(client, f"bind_{self.mode}")
        bind(
            system_id=settings.system_id,
            password=self.gateway.password,
            system_type=settings.system_type,
            interface_version=0x34,
        )
        # Woken at least this often: for keep-alive, and to check the bind slot is still ours.
        client._socket.settimeout(min(settings.enquire_link_seconds, SLOT_CHECK_SECONDS))
        self.binds += 1
        self._set_state("bound")
        self.last_error = None
        self._bound.set()
        log.info("smpp: %s bound to %s:%d", self.mode, settings.host, settings.port)

    def _read_until_lost(self) -> None:
        client = self._client
        assert client is not None
        every = self.gateway.settings.enquire_link_seconds
        heard = time.monotonic()
        asked: float | None = None  # when our enquire_link went, while unanswered
        while not self.gateway.closed.is_set():
            if not self.gateway._may_bind():
                # The slot went (the database connection that held it broke, and another process
                # may hold it now): leave the account's bind to it.
                self.unbind()
                self._drop(None)
                self._set_state("standby", self.gateway.standby_reason())
                log.warning("smpp: %s bind given up: this process lost its bind slot", self.mode)
                return
            try:
                pdu = client.read_pdu()
            except TimeoutError:
                now = time.monotonic()
                if asked is not None and now - asked >= every:
                    self._drop("no answer to enquire_link")
                    return
                if asked is None and now - heard >= every:
                    try:
                        self._send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
                    except (OSError, smpplib.exceptions.ConnectionError) as e:
                        self._drop(f"enquire_link failed: {e}")
                        return
                    asked = now
                continue
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as e:
                self._drop(f"connection lost: {e or type(e).__name__}")
                return
            heard, asked = time.monotonic(), None
            try:
                if not self._handle(client, pdu):
                    return
            except (OSError, smpplib.exceptions.ConnectionError) as e:
                self._drop(f"connection lost: {e or type(e).__name__}")
                return

    def _handle(self, client: smpplib.client.Client, pdu) -> bool:
        """Act on one PDU; False when the SMSC ended the session."""
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack", "query_sm_resp"):
            waiter = self._waiting.pop(pdu.sequence, None)
            if waiter is not None:
                waiter.status = int(pdu.status)
                waiter.answer = pdu
                raw_id = getattr(pdu, "message_id", None) or b""
                waiter.message_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                waiter.event.set()
        elif command == "deliver_sm":
            status = self.gateway._deliver(pdu)
            answer = smpplib.smpp.make_pdu("deliver_sm_resp", client=client, status=status)
            answer.sequence = pdu.sequence
            self._send_pdu(answer)
        elif command == "enquire_link":
            answer = smpplib.smpp.make_pdu("enquire_link_resp", client=client)
            answer.sequence = pdu.sequence
            self._send_pdu(answer)
        elif command == "unbind":
            answer = smpplib.smpp.make_pdu("unbind_resp", client=client)
            answer.sequence = pdu.sequence
            self._send_pdu(answer)
            self._drop("the SMSC unbound")
            return False
        elif command not in ("enquire_link_resp", "unbind_resp"):
            log.info("smpp: %s ignored on the %s bind", command, self.mode)
        return True

    def _send_pdu(self, pdu) -> None:
        with self._write:
            assert self._client is not None
            self._client.send_pdu(pdu)

    def _drop(self, reason: str | None) -> None:
        """Close the socket and fail every submit still waiting (they are in doubt)."""
        self._bound.clear()
        with self._write:
            client, self._client = self._client, None
            waiting, self._waiting = self._waiting, {}
        if client is not None:
            try:
                if client._socket is not None:
                    client._socket.close()
                    client._socket = None
                client.state = smpplib.consts.SMPP_CLIENT_STATE_CLOSED
            except OSError:
                pass
        for waiter in waiting.values():
            waiter.event.set()  # status None: lost
        if reason is not None:
            self._set_state("down", reason)
            log.warning("smpp: %s bind down: %s", self.mode, reason)

    def unbind(self) -> None:
        """Polite end: unbind (the reader thread sees the answer), then close."""
        with self._write:
            client = self._client
            if client is None:
                return
            try:
                client.send_pdu(smpplib.smpp.make_pdu("unbind", client=client))
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError):
                pass

    # ---- the sender's side ---------------------------------------------------------------------

    def submit(self, fields: dict[str, object], timeout: float) -> tuple[int, str]:
        """Write one submit_sm and wait for its response: (command_status, message_id)."""
        waiter = self.request("submit_sm", fields, timeout)
        assert waiter.status is not None
        return waiter.status, waiter.message_id

    def request(self, command: str, fields: dict[str, object], timeout: float) -> _Waiter:
        """Write one request (submit_sm, query_sm) within the window and wait for its answer."""
        if not self._window.acquire(timeout=timeout):
            raise _NotWritten("window full")
        try:
            waiter = _Waiter(threading.Event())
            with self._write:
                client = self._client
                if client is None or not self._bound.is_set():
                    raise _NotWritten(self.last_error or "not bound")
                pdu = smpplib.smpp.make_pdu(command, client=client, **fields)
                self._waiting[pdu.sequence] = waiter
                self.peak_outstanding = max(self.peak_outstanding, len(self._waiting))
                try:
                    client.send_pdu(pdu)
                except (OSError, smpplib.exceptions.ConnectionError) as e:
                    # Some bytes may have left: in doubt, like a missing response.
                    self._waiting.pop(pdu.sequence, None)
                    raise _Lost(f"write failed: {e or type(e).__name__}") from e
            if not waiter.event.wait(timeout):
                with self._write:
                    self._waiting.pop(pdu.sequence, None)
                raise _Lost(f"no {command}_resp within {timeout:g} s")
            if waiter.status is None:
                raise _Lost(f"bind lost before the {command}_resp ({self.last_error})")
            return waiter
        finally:
            self._window.release()


class SmppGateway:
    """Sends through an SMPP 3.4 account; see the module docstring. `start()` opens the binds."""

    name = "smpp"

    def __init__(
        self,
        settings: SmppSettings,
        password: str,
        *,
        on_delivery: DeliveryHandler | None = None,
        slots: BindSlots | None = None,
    ) -> None:
        self.settings = settings
        self.password = password
        # Shared with the other processes through the database: only a holder binds. None: this
        # process is the only one (tests, benchmarks, a single `tongdai run`).
        self.slots = slots
        self._slot: int | None = None
        self._slot_checked = -SLOT_CHECK_SECONDS
        self._slot_lock = threading.Lock()
        # Why query_sm is off in this process although configured on (the SMSC refused it).
        self.query_refused: str | None = None
        self.rate_per_second = settings.rate_per_second
        # The dispatcher runs this many senders (sms/dispatch.py): the bind's window.
        self.window = settings.window
        self.on_delivery = on_delivery
        self.closed = threading.Event()
        modes = ("transceiver",) if settings.bind == "transceiver" else ("transmitter", "receiver")
        self.binds = [_Bind(self, mode) for mode in modes]
        self._references = itertools.count(random.randrange(256))
        self._recent: OrderedDict[str, int] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._started = False

    def start(self) -> SmppGateway:
        if not self._started:
            self._started = True
            for bind in self.binds:
                bind.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        self.closed.set()
        for bind in self.binds:
            bind.unbind()
        for bind in self.binds:
            if bind._thread.is_alive():
                bind._thread.join(timeout)
        if self.slots is not None:
            with self._slot_lock:
                self.slots.release()
                self._slot = None

    # ---- which process binds -------------------------------------------------------------------

    def _may_bind(self) -> bool:
        """True while this process holds a bind slot (asked again every SLOT_CHECK_SECONDS)."""
        if self.slots is None:
            return True
        with self._slot_lock:
            now = time.monotonic()
            if now - self._slot_checked < SLOT_CHECK_SECONDS:
                return self._slot is not None
            self._slot_checked = now
            had = self._slot
            try:
                self._slot = self.slots.hold()
            except Exception:  # the database cannot say: a slot it cannot prove is not ours
                log.exception("smpp: cannot check the bind slot")
                self._slot = None
            if self._slot != had:
                if self._slot is None:
                    log.warning("smpp: no bind slot: %s", self.standby_reason())
                else:
                    log.info("smpp: holding bind slot %d of %d", self._slot + 1,
                             self.settings.bind_holders)  # fmt: skip
            return self._slot is not None

    def standby_reason(self) -> str:
        settings = self.settings
        return (f"standing by: max_binds = {settings.max_binds} lets {settings.bind_holders} "
                f"process(es) hold {settings.bind} binds, and others hold them")  # fmt: skip

    def may_send(self) -> bool:
        """False while this process stands by for another that holds the account's binds: its
        dispatcher leaves the outbox to them (sms/dispatch.py)."""
        return self._may_bind()

    def wait_bound(self, timeout: float) -> bool:
        return all(bind.wait_bound(timeout) for bind in self.binds)

    def health(self) -> dict[str, object]:
        """The binds' state for /healthz and the staff page."""
        binds = [
            {
                "mode": bind.mode,
                "state": bind.state,
                "since": bind.since.isoformat(timespec="seconds"),
                "binds": bind.binds,
                "error": bind.last_error,
            }
            for bind in self.binds
        ]
        states = {bind.state for bind in self.binds}
        if states == {"bound"}:
            state = "bound"
        elif "standby" in states:
            state = "standby"
        elif "refused" in states:
            state = "refused"
        else:
            state = "down"
        report: dict[str, object] = {"state": state, "binds": binds}
        if self.slots is not None:
            report["slot"] = None if self._slot is None else self._slot + 1
            report["max_binds"] = self.settings.max_binds
        if self.settings.query_sm:
            report["query_sm"] = self.query_refused or "on"
        return report

    # ---- sending -------------------------------------------------------------------------------

    def send(self, message: OutgoingSms) -> Accepted:
        self.start()
        settings = self.settings
        link = next(bind for bind in self.binds if bind.transmits)
        if not link.wait_bound(settings.response_timeout_seconds):
            raise TransientSendError(f"SMPP not bound: {link.last_error or link.state}", "unbound")
        if message.reply:
            source = (settings.reply_source_addr, settings.reply_source_ton,
                      settings.reply_source_npi)  # fmt: skip
        else:
            source = (settings.source_addr, settings.source_ton, settings.source_npi)
        parts = submit_parts(
            message.text,
            gsm7_data_coding=settings.gsm7_data_coding,
            concatenation=settings.concatenation,
            reference=next(self._references),
        )
        accepted: list[str] = []
        for number, part in enumerate(parts, start=1):
            fields: dict[str, object] = {
                "service_type": "",
                "source_addr": source[0],
                "source_addr_ton": source[1],
                "source_addr_npi": source[2],
                "destination_addr": international(message.to),
                "dest_addr_ton": TON_INTERNATIONAL,
                "dest_addr_npi": NPI_ISDN,
                "esm_class": part.esm_class,
                "protocol_id": 0,
                "priority_flag": 0,
                "schedule_delivery_time": "",
                "validity_period": validity_period(settings.validity_hours),
                # One receipt per notice, on its last part: the notice's provider id.
                "registered_delivery": settings.registered_delivery if part.last else 0,
                "replace_if_present_flag": 0,
                "data_coding": part.data_coding,
                "sm_default_msg_id": 0,
                "short_message": part.short_message,
                **part.tlvs,
            }
            status, message_id = self._submit_part(link, message, fields, number, accepted)
            if status != 0:
                raise self._refusal(message, status, number, len(parts), accepted)
            accepted.append(message_id)
        provider_id = accepted[-1]
        self._remember(accepted, message.notice_id)
        log.info("smpp: notice %d to %s accepted as %s (%d part%s)", message.notice_id,
                 mask_phone(message.to), provider_id, len(parts),
                 "" if len(parts) == 1 else "s")  # fmt: skip
        return Accepted(provider_id, "sent")

    def _submit_part(self, link: _Bind, message: OutgoingSms, fields, number: int, accepted):
        timeout = self.settings.response_timeout_seconds
        for attempt in range(PART_RETRIES + 1):
            try:
                status, message_id = link.submit(fields, timeout)
            except _NotWritten as e:
                if not accepted:
                    raise TransientSendError(f"SMPP not bound: {e}", "unbound") from e
                raise UncertainSendError(
                    f"part {number} not sent after {len(accepted)} accepted: {e}", "partial"
                ) from e
            except _Lost as e:
                log.warning("smpp: notice %d in doubt: %s", message.notice_id, e)
                raise UncertainSendError(str(e), "no-response") from e
            # A later part throttled: the earlier ones are out, so wait here rather than fail.
            if status == THROTTLED and accepted and attempt < PART_RETRIES:
                self.closed.wait(1.0 / (self.rate_per_second or 1.0) * (attempt + 1))
                continue
            return status, message_id
        return status, message_id

    def query(self, message_id: str, *, reply: bool = False) -> Receipt | None:
        """query_sm for a message the SMSC accepted: its state as a receipt would tell it, or
        None when the SMSC does not know the id. Raises TransientSendError when it cannot be
        asked now, and turns query_sm off in this process (logged, on /healthz) when the SMSC
        refuses the command itself or drops the bind on it."""
        settings = self.settings
        if self.query_refused is not None:
            raise TransientSendError(f"query_sm is off: {self.query_refused}", "query-off")
        link = next(bind for bind in self.binds if bind.transmits)
        if not link.wait_bound(settings.response_timeout_seconds):
            raise TransientSendError(f"SMPP not bound: {link.last_error or link.state}", "unbound")
        source = (
            (settings.reply_source_addr, settings.reply_source_ton, settings.reply_source_npi)
            if reply
            else (settings.source_addr, settings.source_ton, settings.source_npi)
        )
        fields = {"message_id": message_id, "source_addr": source[0],
                  "source_addr_ton": source[1], "source_addr_npi": source[2]}  # fmt: skip
        try:
            waiter = link.request("query_sm", fields, settings.response_timeout_seconds)
        except _NotWritten as e:
            raise TransientSendError(f"SMPP not bound: {e}", "unbound") from e
        except _Lost as e:
            # An SMSC that does not do query_sm may drop the bind on it (Jasmin does).
            self._refuse_queries(f"no answer to query_sm: {e}")
            raise TransientSendError(str(e), "no-response") from e
        status = waiter.status or 0
        if status in QUERY_UNSUPPORTED or waiter.answer.command == "generic_nack":
            self._refuse_queries(f"the SMSC refused query_sm: 0x{status:02X}")
            raise TransientSendError(f"query_sm refused: 0x{status:02X}", f"0x{status:02X}")
        if status != 0:
            log.info("smpp: query_sm %s: the SMSC does not know it (%s)", message_id,
                     status_name(status))  # fmt: skip
            return None
        answer = waiter.answer
        return receipt_from_state(message_id, answer.message_state, answer.error_code)

    def _refuse_queries(self, reason: str) -> None:
        if self.query_refused is None:
            self.query_refused = reason
            log.error("smpp: query_sm turned off in this process: %s", reason)

    def _refusal(self, message: OutgoingSms, status: int, number: int, total: int, accepted):
        text = f"SMSC refused part {number}/{total}: {status_name(status)}"
        code = f"0x{status:02X}"
        masked = mask_phone(message.to)
        if accepted:
            # The first parts are on the phone already: resending would repeat them.
            log.warning("smpp: notice %d to %s half sent: %s", message.notice_id, masked, text)
            return PermanentSendError(f"{text} after {len(accepted)} part(s) were accepted", code)
        permanent = is_permanent(status)
        log.info("smpp: notice %d to %s refused (%s): %s", message.notice_id, masked,
                 "permanent" if permanent else "transient", text)  # fmt: skip
        return PermanentSendError(text, code) if permanent else TransientSendError(text, code)

    # ---- receiving -----------------------------------------------------------------------------

    def _remember(self, message_ids: list[str], notice_id: int) -> None:
        with self._recent_lock:
            for message_id in message_ids:
                self._recent[message_id] = notice_id
            while len(self._recent) > RECENT_IDS:
                self._recent.popitem(last=False)

    def notice_for(self, message_id: str) -> int | None:
        with self._recent_lock:
            return self._recent.get(message_id)

    def _deliver(self, pdu) -> int:
        """The command_status to answer a deliver_sm with."""
        delivery = parse_deliver(
            esm_class=pdu.esm_class or 0,
            source_addr=pdu.source_addr,
            destination_addr=pdu.destination_addr,
            short_message=pdu.short_message,
            data_coding=pdu.data_coding or 0,
            message_payload=getattr(pdu, "message_payload", None),
            receipted_message_id=getattr(pdu, "receipted_message_id", None),
            message_state=getattr(pdu, "message_state", None),
            sar=(
                getattr(pdu, "sar_msg_ref_num", None),
                getattr(pdu, "sar_total_segments", None),
                getattr(pdu, "sar_segment_seqnum", None),
            ),
        )
        if delivery is None:
            log.warning("smpp: unreadable receipt %r ignored", pdu.short_message)
            return smpplib.consts.SMPP_ESME_ROK
        if self.on_delivery is None:
            log.warning("smpp: deliver_sm with no handler: %s", type(delivery).__name__)
            return ESME_RX_T_APPN
        notice_id = self.notice_for(delivery.message_id) if isinstance(delivery, Receipt) else None
        try:
            stored = self.on_delivery(delivery, notice_id)
        except Exception:  # the SMSC will deliver it again; the bind must live on
            log.exception("smpp: storing a deliver_sm failed")
            stored = False
        return smpplib.consts.SMPP_ESME_ROK if stored else ESME_RX_T_APPN
