"""The employee's statement (tracker/cases/statement.py) sealed as an evidence bundle, like an upload.

The canonical JSON is kept byte for byte (``statement.json``, its SHA-256 in the manifest); a readable text
(``statement.txt``) is derived for the case page, the search and the reports. The manifest's hash is the
evidence fingerprint; with a TSA configured the manifest is timestamped (RFC 3161).
"""
from __future__ import annotations

import json
from typing import Any

from .bundle import Artifact, EvidenceBundle, sha256_hex
from .errors import CaptureRefused
from .hashing import text_sha256
from .options import CaptureOptions
from .upload import _common, _Run, seal_and_timestamp

#: the statement's headings in the readable text (Danish: the text goes into Danish reports)
HEADINGS = (("kind", "Slags episode"), ("when", "Tidspunkt"), ("where", "Sted"), ("who", "Hvem"),
            ("witnesses", "Vidner"), ("what", "Hvad skete der / hvad blev sagt"), ("given_by", "Afgivet af"),
            ("given_at", "Afgivet"))
KIND_NAMES = {"url": "opslag på nettet", "phone_call": "telefonopkald", "letter": "brev", "in_person": "personligt fremmøde",
              "email": "e-mail", "sms": "sms", "other": "andet"}


def readable(statement: dict[str, Any]) -> str:
    """The statement as plain text, one field per heading (empty fields say so)."""
    lines = []
    for key, heading in HEADINGS:
        value = statement.get(key)
        if key == "kind":
            value = KIND_NAMES.get(value, value)
        lines.append(f"{heading}: {value if value not in (None, '') else '(ikke oplyst)'}")
    return "\n".join(lines) + "\n"


def capture_statement(data: bytes, options: CaptureOptions, operator: str = "") -> EvidenceBundle:
    """Seal the statement's canonical JSON; CaptureRefused if it is not a Værn statement."""
    run = _Run(operator)
    run.act("receive", f"{len(data)} bytes of statement")
    try:
        statement = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CaptureRefused("corrupt", "the statement is not JSON") from None
    if not isinstance(statement, dict) or statement.get("schema") != "vaern.statement/1":
        raise CaptureRefused("corrupt", "the statement is not a vaern.statement/1 document")
    text = readable(statement)
    artifacts = [Artifact("statement.json", "original", "application/json", data),
                 Artifact("statement.txt", "text", "text/plain; charset=utf-8", text.encode("utf-8"))]
    run.act("statement", f"kind {statement.get('kind')}, {len(statement.get('what') or '')} characters")
    manifest: dict[str, Any] = {
        "original": {"filename": "statement.json", "sniffed_type": "statement", "media_type": "application/json",
                     "size": len(data), "sha256": sha256_hex(data)},
        "statement": {k: statement.get(k) for k in ("kind", "when", "where", "who", "witnesses", "given_by",
                                                   "given_at")},
        "text_sha256": text_sha256(text),
    }
    manifest.update(_common(run, operator, options))
    manifest["kind"] = "statement"
    return seal_and_timestamp(artifacts, manifest, options)
