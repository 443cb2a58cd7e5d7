"""Look up the platform's statement of reasons in the EU DSA Transparency Database (DSA art. 24(5)).

What is documented (transparency.dsa.ec.europa.eu/page/api-documentation, read 2026-12-04): an API for
*platforms* that submit statements, authorised with ``Authorization: Bearer TOKEN``; besides ``POST
/api/v1/statement`` it documents ``GET /api/v1/statement/existing-puid/<PUID>``, which answers ``302 Found``
with the existing statement as JSON (``uuid``, ``decision_visibility``, ``decision_ground``, ``category``,
``permalink`` …) or ``404 Not Found`` with ``{"message": "statement of reason not found"}``; 401 for a bad
token. The documentation says the PUID is unique "within this platform", i.e. the platform the token
belongs to. What is ASSUMED: that a token the municipality holds is accepted there and finds the statement
for the reported content's PUID. The Research API (for researchers, EU Login) is documented only in outline
in what we could read; Værn does not use it. So a lookup says exactly what the database answered: a match
(the statement is attached to the step), no match, or failed — never more.

The HTTP call is the adapter's (tracker/adapters/tdb.py); this module records the answer and audits it.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from storage.blobs import EvidenceStore
from storage.models import Case, StepAttachment, User
from storage.types import utcnow
from tracker.errors import DomainError
from tracker.oversight import audit
from tracker.workflow.rules import Rules
from tracker.workflow.steps import PLATFORM_NOTICE, _step_row

PUID_MAX = 500  #: Værn's own limit on the identifier it sends


@dataclass(frozen=True)
class Answer:
    """What the Transparency Database answered: ``match`` (``statement`` is its JSON), ``no_match`` or
    ``failed`` (``detail`` says why: timeout, refused token, server error …)."""

    result: Literal["match", "no_match", "failed"]
    statement: dict | None = None
    detail: str = ""
    http_status: int | None = None


@dataclass(frozen=True)
class Lookup:
    answer: Answer
    queried_at: datetime
    attachment: StepAttachment | None = field(default=None)


def lookup_statement(session: Session, blobs: EvidenceStore, case: Case, actor: User, puid: str | None, *,
                     ask: Callable[[str], Answer] | None, base_url: str, rules: Rules,
                     now: datetime | None = None) -> Lookup:
    """Ask the Transparency Database for the statement of reasons for the reported content's PUID and
    record the answer on the ``platform_notice`` step: a match is attached (its JSON, as the database sent
    it), every lookup is audited with what was asked, where and when. ``ask`` None: the feature is off
    (no token). Raises DomainError tdb_off, puid_missing or puid_too_long; a failed lookup is not an error
    (it is recorded and said)."""
    now = now or utcnow()
    row = _step_row(session, case, PLATFORM_NOTICE, actor, rules)  # checks the permission first
    if ask is None:
        raise DomainError("tdb_off", "no Transparency Database token is configured", "puid")
    puid = (puid or "").strip()
    if not puid:
        raise DomainError("puid_missing", "the content's identifier at the platform (PUID) is needed", "puid")
    if len(puid) > PUID_MAX:
        raise DomainError("puid_too_long", f"at most {PUID_MAX} characters", "puid")
    answer = ask(puid)
    if answer.result == "match" and not isinstance(answer.statement, dict):
        answer = Answer("failed", detail="the database said found but sent no statement",
                        http_status=answer.http_status)
    att = None
    if answer.result == "match":
        data = json.dumps(answer.statement, ensure_ascii=False, sort_keys=True, indent=2).encode()
        sha = blobs.put(data)
        uuid = str(answer.statement.get("uuid") or "")[:60]
        att = StepAttachment(case_step_id=row.id, sha256=sha, media_type="application/json", size=len(data),
                             filename=f"dsa-tdb-{uuid or 'statement'}.json"[:255], created_by_id=actor.id)
        session.add(att)
        session.flush()
    audit.record(session, actor, "step.tdb_lookup", "case_step", PLATFORM_NOTICE, case.id,
                 puid=puid, url=base_url, queried_at=now.isoformat(), result=answer.result,
                 http_status=answer.http_status, detail=answer.detail[:300] or None,
                 uuid=(answer.statement or {}).get("uuid") if att else None,
                 attachment_id=att.id if att else None, sha256=att.sha256 if att else None)
    return Lookup(answer=answer, queried_at=now, attachment=att)
