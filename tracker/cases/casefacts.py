"""A case's facts in the audit chain, as hashes: so `vaern verify` can name a case row edited behind Værn's back.

Every change of a fact (description, episode time, category, status, the checklist's answers, …) is
recorded on its audit event as ``facts_sha256: {fact: {"before": h, "after": h}}``; ``case.create``
records every fact's first value. The chain holds only hashes, never the text: a description erased
later (GDPR) leaves the chain intact. A hash is over the case's id, the fact's name and its value, so the
same text in two cases does not hash alike. It proves, it does not hide: a short value (a category, yes/no)
can be found from its hash by trying the few possible values.

Cases opened before facts were audited have no such record: the first `vaern verify` after this change
records their current facts as a ``case.baseline`` event (and says so). An edit made before that baseline
cannot be detected; every edit after it is.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canon import canonical_json
from storage.models import AuditEvent, Case
from tracker.oversight import audit

#: the case columns whose every change is audited, with the words `vaern verify` uses for them
FACTS = {
    "description": "description", "episode_at": "episode time", "category": "category", "platform": "platform",
    "status": "status", "closed_at": "closing time", "author_known": "author known",
    "private_information_disclosed": "private information disclosed", "defamatory": "defamatory",
    "unit_id": "unit", "employee_id": "employee", "reported_by_id": "reporter", "created_at": "creation time",
}
DETAIL_KEY = "facts_sha256"
#: the audit actions that may carry ``facts_sha256``
FACT_ACTIONS = ("case.create", "case.category", "case.facts", "clock.set", "case.close", "case.reopen",
                "case.baseline", "case.erase")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


def fact_hash(case_id: int, name: str, value: Any) -> str:
    """SHA-256 of one fact's value (canonical JSON of the case id, the fact's name and the value)."""
    return hashlib.sha256(canonical_json({"case": case_id, "fact": name, "value": _value(value)})).hexdigest()


def snapshot(case: Case) -> dict[str, str]:
    """Every fact's hash as the row holds it now (call before changing the row, pass to ``changed``)."""
    return {name: fact_hash(case.id, name, getattr(case, name)) for name in FACTS}


def created(case: Case) -> dict[str, dict[str, str]]:
    """``facts_sha256`` for ``case.create``: every fact's first value."""
    return {name: {"after": h} for name, h in snapshot(case).items()}


def changed(before: dict[str, str], case: Case) -> dict[str, dict[str, str]] | None:
    """``facts_sha256`` for an event that changed the row: the facts that differ from ``before`` (None: none)."""
    after = snapshot(case)
    diff = {name: {"before": before[name], "after": h} for name, h in after.items() if before.get(name) != h}
    return diff or None


@dataclass(frozen=True)
class FactMismatch:
    case_id: int
    ref: str
    fact: str
    event_id: int  #: the event that last set the fact

    @property
    def message(self) -> str:
        return (f"case {self.ref}: {FACTS[self.fact]} differs from the chain (last set by event {self.event_id}); "
                "the case row was changed outside Værn")


@dataclass(frozen=True)
class Unrecorded:
    case_id: int
    ref: str
    facts: tuple[str, ...]  #: facts the chain has no record of (a case from before facts were audited)


def check_case_facts(session: Session, skip_events: set[int] = frozenset()) -> tuple[list[FactMismatch], list[Unrecorded]]:
    """Every case row against the last hash the chain recorded for each of its facts.

    ``skip_events``: events already reported as edited (their details prove nothing).
    """
    last: dict[int, dict[str, tuple[str, int]]] = {}
    rows = session.execute(select(AuditEvent.id, AuditEvent.case_id, AuditEvent.details)
                           .where(AuditEvent.case_id.is_not(None), AuditEvent.action.in_(FACT_ACTIONS))
                           .order_by(AuditEvent.id).execution_options(yield_per=5000))
    for event_id, case_id, details in rows:
        recorded = details.get(DETAIL_KEY) if isinstance(details, dict) and event_id not in skip_events else None
        if not isinstance(recorded, dict):
            continue
        for name, change in recorded.items():
            if isinstance(change, dict) and isinstance(change.get("after"), str):
                last.setdefault(case_id, {})[name] = (change["after"], event_id)
    mismatches: list[FactMismatch] = []
    unrecorded: list[Unrecorded] = []
    columns = [getattr(Case, name) for name in FACTS]
    for row in session.execute(select(Case.id, Case.ref, *columns).order_by(Case.id).execution_options(yield_per=2000)):
        chain = last.get(row.id, {})
        missing = []
        for name in FACTS:
            if name not in chain:
                missing.append(name)
            elif fact_hash(row.id, name, getattr(row, name)) != chain[name][0]:
                mismatches.append(FactMismatch(row.id, row.ref, name, chain[name][1]))
        if missing:
            unrecorded.append(Unrecorded(row.id, row.ref, tuple(missing)))
    return mismatches, unrecorded


def record_baselines(session: Session, unrecorded: list[Unrecorded]) -> dict[str, int]:
    """Record ``case.baseline`` for facts the chain has no record of (in the caller's transaction): ref → event id."""
    done: dict[str, int] = {}
    for item in unrecorded:
        case = session.get(Case, item.case_id)
        if case is None:
            continue
        now = snapshot(case)
        event = audit.record(session, None, "case.baseline", "case", case.ref, case.id,
                             **{DETAIL_KEY: {name: {"after": now[name]} for name in item.facts}})
        done[case.ref] = event.id
    return done
