"""The employee's statement: what happened in their own words, as evidence like a capture.

An episode without a URL (a phone call, a letter, a threat at the counter …) has no post to secure; the
statement *is* the evidence. It is written as canonical JSON (who, what, when, where, witnesses, the
kind of episode, who gave it and when), stored in the blob store by its SHA-256 before any row names it,
and sealed by the capture job like an upload (capture/statement.py: a manifest with the hash, a trusted
timestamp when one is configured). A URL report may carry a statement too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from canon import canonical_json
from tracker.errors import DomainError

SCHEMA = "vaern.statement/1"
#: what the employee met; ``url``: content online (the takedown ladder applies)
KINDS = ("url", "phone_call", "letter", "in_person", "email", "sms", "other")
OFFLINE_KINDS = KINDS[1:]
MAX_WHAT = 10_000
MAX_SHORT = 500
MAX_WITNESSES = 2_000


@dataclass(frozen=True)
class Statement:
    """The employee's account. ``what``: what was said or done (required); the rest may be empty."""

    what: str
    who: str = ""  #: who did it, if known (a name, a phone number, "a man at the counter")
    where: str = ""  #: where it happened (the counter in Borgerservice, by phone to the direct line …)
    witnesses: str = ""  #: who saw or heard it

    def cleaned(self) -> "Statement":
        fields = {k: (getattr(self, k) or "").strip() for k in ("what", "who", "where", "witnesses")}
        for name, limit in (("what", MAX_WHAT), ("who", MAX_SHORT), ("where", MAX_SHORT),
                            ("witnesses", MAX_WITNESSES)):
            if len(fields[name]) > limit:
                raise DomainError(f"statement_{name}_too_long", f"{name} is longer than {limit} characters",
                                  name if name != "what" else "statement")
        return Statement(**fields)

    @property
    def empty(self) -> bool:
        return not any((self.what, self.who, self.where, self.witnesses))


def check_kind(kind: str | None) -> str:
    kind = kind or "url"
    if kind not in KINDS:
        raise DomainError("bad_kind", f"kind must be one of {', '.join(KINDS)}", "kind")
    return kind


def document(statement: Statement, *, kind: str, case_ref: str, episode_at: datetime | None, given_by: str,
             given_at: datetime) -> bytes:
    """The statement as the canonical JSON that is hashed, timestamped and kept unchanged."""
    return canonical_json({
        "schema": SCHEMA, "case": case_ref, "kind": kind,
        "when": episode_at.isoformat() if episode_at else None,
        "what": statement.what, "who": statement.who or None, "where": statement.where or None,
        "witnesses": statement.witnesses or None,
        "given_by": given_by, "given_at": given_at.isoformat(),
    })
