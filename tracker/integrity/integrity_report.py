"""What one `vaern verify` run found (tracker.integrity.integrity), and how it reads for the operator."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

#: a blob's name, an anchored hash: a SHA-256 in lower-case hex
HEX64 = re.compile(r"^[0-9a-f]{64}$")



@dataclass(frozen=True)
class Problem:
    """One thing that does not hold, as one English line for the operator."""

    #: blob_missing | blob_altered | blob_new_version (S3) | blob_unreadable | blob_name_invalid | evidence_mismatch |
    #: event_edited | chain_broken | anchor_failed | anchor_unreadable | case_mismatch
    kind: str
    subject: str  #: the blob's SHA-256, ``event:<id>`` or ``anchor:<line>``
    message: str


class AnchorWriteError(Exception):
    """The anchor file could not be appended to (a configuration problem, not tampering)."""


@dataclass
class IntegrityReport:
    """The outcome of one verification; ``ok`` when there is no problem (notes do not count)."""

    blobs_checked: int | None = None  #: None: blobs were not checked
    blob_bytes: int = 0
    events: int = 0
    head_id: int | None = None
    head_hash: str | None = None  #: the hash of ``head_id`` as the walk saw it: what an anchor records
    anchors: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: cases whose facts the chain has no record of yet (opened before facts were audited): recorded by
    #: ``run_verification`` as a baseline
    unrecorded: list = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def chain_holds(self) -> bool:
        return not any(p.kind.startswith(("event_", "chain_", "anchor_")) for p in self.problems)

    def summary(self) -> str:
        blobs = ("blobs not checked" if self.blobs_checked is None
                 else f"{plural(self.blobs_checked, 'blob')} ({human_size(self.blob_bytes)}) re-hashed")
        anchors = "no anchors yet" if not self.anchors else plural(self.anchors, "anchor")
        if self.ok:
            hold = "" if not self.anchors else (" holds" if self.anchors == 1 else " hold")
            return f"OK: {blobs}, {plural(self.events, 'audit event')} in an unbroken chain, {anchors}{hold}"
        return (f"FAILED: {plural(len(self.problems), 'problem')} found — {blobs}, "
                f"{plural(self.events, 'audit event')} walked, {anchors} checked")

    def lines(self) -> list[str]:
        """The problems, then the notes, then the summary: what `vaern verify` prints."""
        return [p.message for p in self.problems] + [f"note: {n}" for n in self.notes] + [self.summary()]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "summary": self.summary(), "blobs_checked": self.blobs_checked,
                "blob_bytes": self.blob_bytes, "events": self.events, "head_id": self.head_id,
                "anchors": self.anchors, "problems": [asdict(p) for p in self.problems], "notes": self.notes}


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def human_size(n: int) -> str:
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= factor:
            return f"{n / factor:.2f} {unit}"
    return f"{n} bytes"


def utc_text(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "an unknown time"


def event_span(lo: int, hi: int) -> str:
    return f"event {lo}" if lo == hi else f"events {lo}–{hi}"
