"""The demo's own mail server: aiosmtpd on 127.0.0.1 in the demo process, keeping every mail in memory.

`vaern demo` points Værn's SMTP settings at it, so a notification really goes through smtplib and SMTP
(the same code as in a real install) and the demo page /demo/mail lists what was sent. Nothing leaves
the machine and nothing is stored on disk: the mails are gone when the demo stops.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from storage.types import utcnow

#: the newest mails kept (the demo runs for hours at most)
MAX_MAILS = 500


@dataclass(frozen=True)
class DemoMail:
    received_at: datetime
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str


@dataclass
class Mailbox:
    """The mails the demo's server received, newest last; safe to read from the web threads."""

    _mails: list[DemoMail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, mail: DemoMail) -> None:
        with self._lock:
            self._mails.append(mail)
            del self._mails[:-MAX_MAILS]

    def mails(self) -> list[DemoMail]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._mails))

    # aiosmtpd's handler hook
    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        part = msg.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        self.add(DemoMail(utcnow(), envelope.mail_from or "", tuple(envelope.rcpt_tos), str(msg.get("Subject", "")),
                          body))
        return "250 Message accepted for delivery"


@dataclass
class DemoMailServer:
    mailbox: Mailbox
    controller: Controller

    @property
    def host(self) -> str:
        return self.controller.hostname

    @property
    def port(self) -> int:
        return self.controller.port

    def stop(self) -> None:
        self.controller.stop()


#: a stable port, like the demo site's (fallback: any free port)
DEMO_SMTP_PORT = 5025


def start_demo_mail(port: int | None = DEMO_SMTP_PORT) -> DemoMailServer:
    """Start the SMTP server on 127.0.0.1 in a background thread (aiosmtpd's own event loop)."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
    mailbox = Mailbox()
    for candidate in (port, 0) if port else (0,):
        controller = Controller(mailbox, hostname="127.0.0.1", port=candidate or _free_port())
        try:
            controller.start()
        except (OSError, RuntimeError):
            continue
        return DemoMailServer(mailbox, controller)
    raise RuntimeError("the demo mail server could not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
