"""What happened to a case and who looked at it, and the audit log with filters (HR, read-only).

Reading either is itself an audit event ("case.history_view", "audit.view"), recorded by the
functions here so no caller can forget it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Case, Role, User
from tracker.oversight import audit
from tracker.errors import DomainError, NotFound
from tracker.oversight.event_text import Names, sentence
from tracker.accounts.permissions import can_view_case
from tracker.oversight.search import clean, ids_containing

MAX_PER_PAGE = 200
#: audit actions that are someone looking at, searching or downloading: kept in the audit log and HR's
#: history (GDPR: who saw what), never in the case's timeline or its PDF report
VIEW_ACTIONS = frozenset({"case.view", "case.history_view", "case.list", "case.search", "artifact.view",
                          "artifact.download", "attachment.view", "attachment.download", "letter.view",
                          "letter.download", "report.download", "offender.view", "offender.list", "audit.view",
                          "stats.view", "stats.export"})
#: the chain of custody a case report prints: created, requested, captured, timestamped, checked, exported
CUSTODY_ACTIONS = frozenset({"case.create", "evidence.request", "evidence.captured", "evidence.timestamped",
                             "evidence.failed", "evidence.refused", "evidence.retry", "artifact.integrity_error",
                             "recheck.start", "recheck.decided", "step.removed_verified", "package.export",
                             "package.export_failed", "integrity.verify"})


def in_timeline(action: str) -> bool:
    """What happened in the case (created, captured, steps, letters, re-checks, exports), not who looked."""
    return action not in VIEW_ACTIONS


def names_for(session: Session, events: list[AuditEvent], *, rules=None, lang: str = "da") -> Names:
    """How the events' sentences name steps (from ``rules``) and the people they mention."""
    ids = {e.actor_id for e in events if e.actor_id is not None}
    ids |= {v for e in events for k, v in (e.details or {}).items()
            if k in ("leader_id", "user_id") and isinstance(v, int)}
    people = {u.id: u.name for u in session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    label = None
    if rules is not None:
        def label(step_id: str) -> str:
            step = rules.step(step_id)
            return step.label_en if lang.startswith("en") else step.label_da
    return Names(lang=lang, step_label=label, people=people)


@dataclass(frozen=True)
class Entry:
    """One audit event with its actor (None: the system) and what happened as one sentence."""

    event: AuditEvent
    actor: User | None
    summary: str

    @property
    def is_view(self) -> bool:
        return self.event.action in VIEW_ACTIONS


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_cursor: int | None  #: event id to continue from; None: no more


@dataclass(frozen=True)
class AuditFilters:
    """Audit log filters; empty ones do not filter. ``at_from``/``at_to`` are aware, [from, to)."""

    actor: str = ""  #: part of the actor's name or e-mail
    actor_id: int | None = None
    system_only: bool = False  #: only events without a person (the system)
    action: str = ""
    case_ref: str = ""
    object_type: str = ""
    at_from: datetime | None = None
    at_to: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("actor", "action", "case_ref", "object_type"):
            object.__setattr__(self, name, clean(getattr(self, name)))
        for name in ("at_from", "at_to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise DomainError("naive_time", "the time needs a time zone", name)


def _entries(session: Session, events: list[AuditEvent], rules=None, lang: str = "da") -> list[Entry]:
    names = names_for(session, events, rules=rules, lang=lang)
    ids = {e.actor_id for e in events if e.actor_id is not None}
    people = {u.id: u for u in session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    return [Entry(e, people.get(e.actor_id), sentence(e, names)) for e in events]


def _require_hr(user: User) -> None:
    if user.role is not Role.hr:
        raise NotFound("audit")  # the pages do not exist for anyone else


def case_history(session: Session, user: User, ref: str, *, after: int | None = None,
                 per_page: int = 100, rules=None, lang: str = "da") -> tuple[Case, Page]:
    """Every audit event of case ``ref`` in order (oldest first), one page; logs this reading first."""
    _require_hr(user)
    case = session.execute(select(Case).where(Case.ref == ref)).scalar()
    if case is None or not can_view_case(user, case):
        raise NotFound(ref)
    if after is None:  # once per reading, not once per page
        audit.record(session, user, "case.history_view", "case", case.ref, case.id)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    q = select(AuditEvent).where(AuditEvent.case_id == case.id)
    if after is not None:
        q = q.where(AuditEvent.id > after)
    events = list(session.execute(q.order_by(AuditEvent.id).limit(per_page + 1)).scalars())
    more = len(events) > per_page
    events = events[:per_page]
    return case, Page(_entries(session, events, rules, lang), events[-1].id if more else None)


def audit_log(session: Session, user: User, filters: AuditFilters, *, before: int | None = None,
              per_page: int = 100, rules=None, lang: str = "da") -> Page:
    """Audit events matching ``filters``, newest first, one page (keyset on id); logs this reading first."""
    _require_hr(user)
    audit.record(session, user, "audit.view", "audit_log", "-", None,
                 **{f"filter_{k}": (v.isoformat() if isinstance(v, datetime) else v)
                    for k, v in vars(filters).items() if v not in (None, "", False)},
                 page_before=before)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    # the ids first, then their rows: sorting whole rows (details included) cost SQLite ten times more
    ids = list(session.execute(audit_ids_query(session, filters, before=before).limit(per_page + 1)).scalars())
    more = len(ids) > per_page
    ids = ids[:per_page]
    rows = {e.id: e for e in session.execute(select(AuditEvent).where(AuditEvent.id.in_(ids))).scalars()} if ids else {}
    events = [rows[i] for i in ids]
    return Page(_entries(session, events, rules, lang), events[-1].id if more else None)


def audit_ids_query(session: Session, filters: AuditFilters, *, before: int | None = None) -> Select:
    """The ids of the audit events matching ``filters``, newest first (unlimited; callers add a limit)."""
    q = select(AuditEvent.id)
    if filters.actor_id is not None:
        q = q.where(AuditEvent.actor_id == filters.actor_id)
    if filters.actor.strip():
        needle = filters.actor.strip()
        q = q.where(AuditEvent.actor_id.in_(ids_containing(session, User.id, (User.name, User.email), needle)))
    if filters.system_only:
        q = q.where(AuditEvent.actor_id.is_(None))
    if filters.action:
        q = q.where(AuditEvent.action == filters.action)
    if filters.case_ref.strip():
        q = q.where(AuditEvent.case_id == select(Case.id).where(Case.ref == filters.case_ref.strip().upper())
                    .scalar_subquery())
    if filters.object_type:
        q = q.where(AuditEvent.object_type == filters.object_type)
    if filters.at_from is not None:
        q = q.where(AuditEvent.at >= filters.at_from)
    if filters.at_to is not None:
        q = q.where(AuditEvent.at < filters.at_to)
    if before is not None:
        q = q.where(AuditEvent.id < before)
    # A period that ends: its events come from ix_audit_at and are sorted ("+ 0" keeps the database from
    # walking the whole log backwards by id instead: PostgreSQL did, passing 47,000 newer events to reach a
    # month in the middle of 100,000).
    return q.order_by((AuditEvent.id + 0).desc() if filters.at_to is not None else AuditEvent.id.desc())


def audit_actions(session: Session) -> list[str]:
    """The distinct actions in the log, by skipping through ix_audit_action_id (cheap on millions of events)."""
    seen: list[str] = []
    current = session.execute(select(AuditEvent.action).order_by(AuditEvent.action).limit(1)).scalar()
    while current is not None and len(seen) < 500:
        seen.append(current)
        current = session.execute(select(AuditEvent.action).where(AuditEvent.action > current)
                                  .order_by(AuditEvent.action).limit(1)).scalar()
    return seen
