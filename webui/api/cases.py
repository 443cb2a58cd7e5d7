"""Cases through the API: open, list (with filters), read the case file, close and reopen, answer the
case facts, set the category and clock starts, download one stored evidence file.

Each change calls the tracker function the case page calls (``tracker.cases.lifecycle``,
``tracker.workflow.steps``), so who may do it and what the audit chain records are the same.
"""
from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import Response, url_for
from sqlalchemy import select

from storage.blobs import BlobError
from storage.models import Case, CaseStep, StepAttachment
from storage.types import utcnow
from tracker.cases import lifecycle
from tracker.cases.casefile import case_overview
from tracker.cases.register import Report, list_cases_for, open_case
from tracker.cases.statement import KINDS, Statement
from tracker.oversight import audit
from tracker.workflow import recheck
from tracker.workflow import steps as ops
from webui.api.core import (CPH, ApiError, Field, answer, body, case_or_404, iso, jsonable, keep_records, not_found,
                            operation, query, rules, run, user, via)
from webui.db import db, runtime

CASES = "Cases"
READERS = "whoever may see the case: its employee (and who reported it), the unit's leader and AMR, HR"
MANAGERS = "the unit's leader and HR (others who see the case: 403 not_allowed)"
NOTE = Field("string", "why (required; kept in the audit log)", required=True)


def case_summary(case: Case) -> dict[str, Any]:
    return {"ref": case.ref, "url": url_for("api.get_case", ref=case.ref), "kind": case.kind, "status": case.status,
            "category": case.category, "created_at": iso(case.created_at), "episode_at": iso(case.episode_at),
            "closed_at": iso(case.closed_at)}


def attachment_data(case: Case, att: StepAttachment) -> dict[str, Any]:
    return {"id": att.id, "step_id": att.step.step_id, "evidence_id": att.evidence_id, "filename": att.filename,
            "media_type": att.media_type, "size": att.size, "sha256": att.sha256, "created_at": att.created_at,
            "url": url_for("api.attachment", ref=case.ref, attachment_id=att.id) if att.sha256 else None}


def attachments_of(s, case: Case) -> list[StepAttachment]:
    return list(s.execute(select(StepAttachment).join(CaseStep, CaseStep.id == StepAttachment.case_step_id)
                          .where(CaseStep.case_id == case.id).order_by(StepAttachment.id)).scalars())


@operation("POST", "/cases", tag=CASES, summary="Open a case", ok=201, response="CaseCreated",
           who="anyone in a unit who may report (employee, leader, AMR); HR and admins: 403 not_allowed",
           body={"kind": Field("string", "what the employee met: url (content online, the default) or an episode "
                                         "without a URL, which needs a statement", choices=KINDS, nullable=True),
                 "url": Field("string", "the post's address (http or https); required for kind url, optional "
                                        "otherwise", nullable=True),
                 "episode_at": Field("time", "when it was posted or happened; null or absent: not known. The "
                                             "72-hour police deadline counts from it", nullable=True),
                 "description": Field("string", "what happened", nullable=True),
                 "statement": Field("string", "the employee's statement: what was said or done (required for "
                                              "every kind but url); kept as hashed, timestamped evidence",
                                    nullable=True),
                 "who": Field("string", "who did it, if known", nullable=True),
                 "where": Field("string", "where it happened", nullable=True),
                 "witnesses": Field("string", "who saw or heard it", nullable=True)},
           errors=(400, 403, 413, 415))
def create_case():
    """Open a case in the reporter's unit; the URL's capture and the statement's sealing are queued (the answer
    does not wait for them)."""
    b = body()
    parts = {k: b.get(k) or "" for k in ("statement", "who", "where", "witnesses")}
    statement = Statement(what=parts["statement"], who=parts["who"], where=parts["where"],
                          witnesses=parts["witnesses"]) if any(parts.values()) else None
    report = Report(url=b.get("url"), episode_at=b.get("episode_at"), description=b.get("description") or "",
                    kind=b.get("kind") or "url", statement=statement)
    case = run(lambda s: open_case(s, user(), report, directory=runtime().platforms, blobs=runtime().blobs))
    location = url_for("api.get_case", ref=case.ref)
    return answer({"ref": case.ref, "url": location}, 201, location)


@operation("GET", "/cases", tag=CASES, summary="List the cases you may see", response="CaseList",
           who="everyone (each sees the cases the pages show them)",
           query={"status": Field("string", "only open or only closed cases", choices=("open", "closed")),
                  "category": Field("string", "only cases of this category", choices=lifecycle.CATEGORIES),
                  "created_from": Field("date", "opened on or after this day (Copenhagen)"),
                  "created_to": Field("date", "opened on or before this day (Copenhagen)")})
def list_cases():
    """Every open case you may see and the latest closed ones, newest first, as the case list shows them."""
    q = query()
    s = db()
    rows = list_cases_for(s, user())
    if "status" in q:
        rows = [c for c in rows if c.status == q["status"]]
    if "category" in q:
        rows = [c for c in rows if c.category == q["category"]]
    if "created_from" in q:
        start = datetime.combine(q["created_from"], time.min, CPH)
        rows = [c for c in rows if c.created_at >= start]
    if "created_to" in q:
        end = datetime.combine(q["created_to"], time.max, CPH)
        rows = [c for c in rows if c.created_at <= end]
    audit.record(s, user(), "case.list", "case", "-", count=len(rows), status=q.get("status"),
                 filters={k: str(v) for k, v in q.items()} or None, **via())
    return answer({"cases": [case_summary(c) for c in rows]})


@operation("GET", "/cases/<ref>", tag=CASES, summary="The case file", response="CaseFile", who=READERS,
           errors=(404,))
def get_case(ref: str):
    """Evidence, steps (with attachments), deadlines, facts and re-checks of one case; the read is audited."""
    s = db()
    case = case_or_404(ref)
    data = case_overview(s, case, rules(), utcnow())
    data["rechecks"] = recheck.rechecks_data(s, case)
    data.update(category=case.category, closed_at=case.closed_at,
                facts={"author_known": case.author_known, "defamatory": case.defamatory,
                       "private_information_disclosed": case.private_information_disclosed})
    attached: dict[str, list] = {}
    for att in attachments_of(s, case):
        attached.setdefault(att.step.step_id, []).append(attachment_data(case, att))
    for step in data["steps"]:
        step["attachments"] = attached.get(step["id"], [])
    for ev in data["evidence"]:
        for art in ev["artifacts"]:
            art["url"] = url_for("api.artifact", ref=case.ref, evidence_id=ev["id"], name=art["name"])
    audit.record(s, user(), "case.view", "case", case.ref, case.id, **via())
    return answer(jsonable(data))


def _change(ref: str, change) -> Response:
    """Run one change on the case and answer with the case's summary and facts."""
    case = case_or_404(ref)
    run(lambda s: change(s, case))
    return answer({**case_summary(case), "facts": {"author_known": case.author_known, "defamatory": case.defamatory,
                                                  "private_information_disclosed": case.private_information_disclosed}})


@operation("POST", "/cases/<ref>/close", tag=CASES, summary="Close the case", response="CaseState",
           who=MANAGERS, body={"note": NOTE}, errors=(400, 403, 404, 409))
def close_case(ref: str):
    """Close with the reason; nothing of the case is deleted. 409 already_closed."""
    note = body().get("note") or ""
    return _change(ref, lambda s, case: lifecycle.close_case(s, case, user(), note))


@operation("POST", "/cases/<ref>/reopen", tag=CASES, summary="Reopen a closed case", response="CaseState",
           who=MANAGERS, body={"note": NOTE}, errors=(400, 403, 404, 409))
def reopen_case(ref: str):
    """Reopen (the harassment started again); the close stays in the audit log. 409 not_closed."""
    note = body().get("note") or ""
    return _change(ref, lambda s, case: lifecycle.reopen_case(s, case, user(), note))


FACT = "true, false, or null for not assessed; an absent field is left as it is"


@operation("POST", "/cases/<ref>/facts", tag=CASES, summary="Answer the case facts", response="CaseState",
           who=MANAGERS, errors=(400, 403, 404),
           body={"author_known": Field("boolean", "is the author known? " + FACT, nullable=True),
                 "private_information_disclosed": Field("boolean", "was private information published? " + FACT,
                                                        nullable=True),
                 "defamatory": Field("boolean", "is the content defamatory? " + FACT, nullable=True)})
def set_facts(ref: str):
    """The checklist's questions, which decide which ladder rungs apply."""
    answers = body()
    return _change(ref, lambda s, case: ops.set_facts(s, case, user(), **answers))


@operation("POST", "/cases/<ref>/category", tag=CASES, summary="Set the category", response="CaseState",
           who=MANAGERS, errors=(400, 403, 404),
           body={"category": Field("string", "the guideline's kind of harassment; null (or absent) clears it",
                                   choices=lifecycle.CATEGORIES, nullable=True)})
def set_category(ref: str):
    """The category statistics for MED and HR's search count by. 400 bad_category."""
    category = body().get("category")
    return _change(ref, lambda s, case: lifecycle.set_category(s, case, user(), category))


@operation("POST", "/cases/<ref>/clocks", tag=CASES, summary="Record when a deadline clock starts",
           response="CaseState", who=MANAGERS, errors=(400, 403, 404),
           body={"name": Field("string", "the clock start", choices=ops.SETTABLE_CLOCKS, required=True),
                 "at": Field("time", "when; null forgets it (shown as unknown again)", nullable=True),
                 "note": Field("string", "where the time comes from", nullable=True)})
def set_clock(ref: str):
    """E.g. the first day of absence or when the author became known; ``episode`` sets the episode time."""
    b = body()
    return _change(ref, lambda s, case: ops.set_clock(s, case, b.get("name") or "", b.get("at"), user(),
                                                      b.get("note")))


@operation("GET", "/cases/<ref>/evidence/<int:evidence_id>/<name>", tag=CASES, summary="One stored evidence file",
           response=None, media_type="application/octet-stream", who=READERS, errors=(404, 500))
def artifact(ref: str, evidence_id: int, name: str):
    """One file of an evidence bundle, as stored (always a download, never rendered); audited."""
    case = case_or_404(ref)
    ev = next((e for e in case.evidence if e.id == evidence_id), None)
    art = next((a for a in ev.artifacts if a.name == name), None) if ev is not None else None
    if art is None:
        raise not_found()
    s = db()
    try:
        data = runtime().blobs.read(art.sha256)
    except BlobError as exc:
        audit.record(s, user(), "artifact.integrity_error", "artifact", art.sha256, case.id,
                     name=name, error=str(exc), via="api")
        keep_records()
        raise ApiError(500, "integrity_error", "the stored file does not match its SHA-256") from None
    audit.record(s, user(), "artifact.download", "artifact", art.sha256, case.id, evidence=ev.id, name=name, **via())
    resp = Response(data, mimetype="application/octet-stream")
    resp.headers["Content-Disposition"] = f'attachment; filename="{case.ref}-{ev.id}-{art.name}"'
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Evidence-SHA256"] = art.sha256
    return resp
