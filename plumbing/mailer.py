"""Email to supervisors (alerts), behind a small interface with a fake twin.

`TONGDAI_SMTP_URL` is `smtp://user:password@host:port` (plain SMTP, upgraded with STARTTLS when
the server offers it) or `smtps://…` (TLS from the first byte). Unset: no email is sent.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

TIMEOUT_SECONDS = 10


class MailError(Exception):
    """The message was not handed to the mail server."""


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str


class Mailer(Protocol):
    def send(self, mail: Mail) -> None:
        """Hand the message to the server, or raise MailError."""
        ...


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    user: str = ""
    password: str = ""
    tls: bool = False  # smtps: TLS from the start
    sender: str = "tongdai@localhost"

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpMailer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("TONGDAI_SMTP_URL must look like smtp://user:password@host:port")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            tls=tls,
            sender=sender,
        )

    def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        try:
            if self.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=TIMEOUT_SECONDS,
                    context=ssl.create_default_context(),
                )  # fmt: skip
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            with client:
                if not self.tls and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self.password)
                client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"{self.host}:{self.port}: {exc}") from exc


@dataclass
class RecordingMailer:
    """The fake twin: keeps what would have been sent."""

    sent: list[Mail] = field(default_factory=list)

    def send(self, mail: Mail) -> None:
        self.sent.append(mail)
