"""A real SMTP server for the tests: aiosmtpd with an inbox that keeps every message."""
from __future__ import annotations

import email
import email.policy
import socket


class Inbox:
    """An aiosmtpd handler keeping every message; ``reject`` makes the server refuse the next ones."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.reject = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.reject:
            return "554 5.7.1 rejected for the test"
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
