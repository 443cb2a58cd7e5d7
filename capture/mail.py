"""Uploaded e-mails (RFC 822 / .eml): plausibility sniffing, headers for the manifest, the visible text."""
from __future__ import annotations

import email.errors
import email.policy
import hashlib
import re
from datetime import timezone
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")  #: RFC 5322 field name: printable ASCII except colon
_ADDRESSING = ("from", "to", "date", "subject", "message-id", "received", "sender")
MAX_HEADER = 2000


def looks_like_email(data: bytes) -> bool:
    """True if ``data`` starts with an RFC 822 header block that has From and one more addressing field."""
    head = data[:65536]
    if head.startswith(b"From "):  # an mbox separator line, as some clients save single messages
        head = head.partition(b"\n")[2]
    if b"\x00" in head or not _HEADER_LINE.match(head):
        return False
    msg = BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    if any(isinstance(d, (email.errors.MissingHeaderBodySeparatorDefect,
                          email.errors.InvalidHeaderDefect)) for d in msg.defects):
        return False
    names = {k.lower() for k in msg.keys()}
    return "from" in names and len(names & set(_ADDRESSING)) >= 2


def parse_email(data: bytes) -> tuple[dict[str, Any], str]:
    """The manifest's ``email`` block and the visible body text (plain part, else text of the HTML part)."""
    msg = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    body_part = msg.get_body(preferencelist=("plain", "html"))
    text = _part_text(body_part) if body_part is not None else ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if body_part is not None and body_part.get_content_type() == "text/html":
        text = html_to_text(text)
    date = _header(msg, "Date")
    info = {
        "from": _header(msg, "From"),
        "to": _header(msg, "To"),
        "cc": _header(msg, "Cc"),
        "reply_to": _header(msg, "Reply-To"),
        "subject": _header(msg, "Subject"),
        "date": date,
        "date_utc": _date_utc(date),
        "message_id": _header(msg, "Message-ID"),
        "received": _all(msg, "Received")[:50],
        "body_content_type": body_part.get_content_type() if body_part is not None else None,
        "attachments": [_attachment(p) for p in _attachments(msg, body_part)][:200],
        "defects": sorted({d.__class__.__name__ for p in msg.walk() for d in p.defects}),
    }
    return info, text


def html_to_text(html: str) -> str:
    """Visible text of an HTML mail body: no scripts/styles, a line break per block element."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _header(msg: Message, name: str) -> str | None:
    values = _all(msg, name)
    return values[0] if values else None


def _all(msg: Message, name: str) -> list[str]:
    """Header values as sent (not re-rendered by the parser), unfolded, RFC 2047 words decoded."""
    return [_decode(raw) for key, raw in msg.raw_items() if key.lower() == name.lower()]  # type: ignore[attr-defined]


def _decode(raw: Any) -> str:
    raw = " ".join(str(raw).split())
    try:
        value = str(make_header(decode_header(raw)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):  # bad charset or encoded word: keep it raw
        value = raw
    return _clip(value)


def _clip(value: str) -> str:
    return value.replace("\x00", "")[:MAX_HEADER]


def _date_utc(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC with no claim about the local zone (RFC 5322 3.3)
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _part_text(part: Message) -> str:
    try:
        return part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError, AssertionError):  # unknown charset, odd encoding
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)


def _attachments(msg: EmailMessage, body_part: Message | None) -> list[Message]:
    found = []
    for part in msg.walk():
        if part is body_part or part.is_multipart():
            continue
        if part.get_content_disposition() in ("attachment", "inline") and (
                part.get_filename() or part.get_content_disposition() == "attachment"):
            found.append(part)
    return found


def _attachment(part: Message) -> dict[str, Any]:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):  # message/rfc822 and friends: their serialised form
        payload = part.as_bytes() if not part.is_multipart() else b""
    try:
        filename = part.get_filename()
    except Exception:  # noqa: BLE001 - undecodable RFC 2231 name
        filename = None
    return {"filename": _clip(filename) if filename else None, "content_type": part.get_content_type(),
            "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "head", "title"}
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
