"""The case file: one case with its evidence, checklist and ladder steps and deadline clocks, as plain data.

``case_overview`` returns dicts, lists, strings, numbers, None and timezone-aware datetimes, so a page
can format the times in Danish and the JSON API can write them as ISO 8601. It reads, never writes;
access is the caller's business (``tracker.cases.register.get_case_for``). Facts and clocks come from
``tracker.workflow.steps``, so the file says what the case page says.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage.models import Case, CaseStep, Evidence
from tracker.workflow.checklist import Step, preconditions_hold
from tracker.workflow.rules import Rules
from tracker.workflow.steps import DeadlineView, case_deadlines, case_facts, clock_rows, step_rows


def case_overview(session: Session, case: Case, rules: Rules, now: datetime) -> dict[str, Any]:
    """Everything a reader of the case sees, computed at ``now`` (aware)."""
    rows = step_rows(session, case)
    facts = case_facts(case, rows)
    return {
        "ref": case.ref,
        "unit": {"name": case.unit.name},
        "employee": {"name": case.employee.name},
        "episode_at": case.episode_at,
        "created_at": case.created_at,
        "description": case.description,
        "status": case.status,
        "platform": case.platform,
        "evidence": [evidence_overview(ev) for ev in case.evidence],
        "steps": [step_overview(step, rows.get(step.id), facts)
                  for step in (*rules.checklist, *rules.ladder, *rules.alternatives)],
        "deadlines": [deadline_overview(view)
                      for view in case_deadlines(case, rules, rows, clock_rows(session, case), now)],
    }


def evidence_overview(ev: Evidence) -> dict[str, Any]:
    return {
        "id": ev.id,
        "kind": ev.kind,
        "source_url": ev.source_url,
        "original_filename": ev.original_filename,
        "state": ev.state.value,
        "capture_status": ev.capture_status,
        "fingerprint": ev.fingerprint,
        "timestamp": {"gen_time": ev.timestamp_gen_time} if ev.timestamp_sha256 else None,
        "timestamp_error": ev.timestamp_error,
        "error": ev.error,
        "created_at": ev.created_at,
        "finished_at": ev.finished_at,
        "artifacts": [{"name": a.name, "role": a.role, "media_type": a.media_type, "size": a.size,
                       "sha256": a.sha256} for a in ev.artifacts],
    }


def step_overview(step: Step, row: CaseStep | None, facts: Mapping[str, bool]) -> dict[str, Any]:
    """A rule's step with its state on the case; a step nobody touched yet is ``todo``."""
    return {
        "id": step.id,
        "kind": step.kind,
        "order": step.order,
        "label_da": step.label_da,
        "label_en": step.label_en,
        "actor": step.actor,
        "deadline": step.deadline,
        "letter": step.letter,
        "applies": preconditions_hold(step, facts),  # None: a precondition is not answered yet
        "state": row.state.value if row else "todo",
        "reason": row.reason if row else None,
        "note": row.note if row else "",
        "updated_at": row.updated_at if row else None,
        "done_at": row.done_at if row else None,
        "sent_at": row.sent_at if row else None,
        "channel": row.channel if row else None,
        "platform_ref": row.platform_ref if row else None,
        "outcome": row.outcome if row else None,
        "receipt_at": row.receipt_at if row else None,
        "decided_at": row.decided_at if row else None,
        "statement_of_reasons": row.statement_of_reasons if row else None,
    }


def deadline_overview(view: DeadlineView) -> dict[str, Any]:
    """One clock: met, open, at_risk, overdue, unknown_start, or closed (its step skipped / not applicable)."""
    rule, status = view.rule, view.status
    return {
        "id": rule.id,
        "label": rule.label_da,
        "label_en": rule.label_en,
        "starts_at": rule.starts_at,
        "start": status.start,
        "due_at": status.due,
        "at_risk_from": status.at_risk_from,
        "state": view.state,
        "met_at": status.met_at,
        "closed_note": status.closed_note,
        "legal_source": rule.legal_source,
        "verification": rule.verification.model_dump() if rule.verification else None,
    }
