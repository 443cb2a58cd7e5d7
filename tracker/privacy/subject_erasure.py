"""Erasure on request (GDPR art. 17, issue 16.4): a plan of what is erased and what is kept and why, then the erasure.

A person asks to be erased: an employee (by their account) or an offender (by their record in the offender
register). ``plan_for_user`` / ``plan_for_offender`` say, item by item, what would be erased and what is kept
under which exception of art. 17(3) (the exceptions and their sources are data: ``rules/erasure.toml``, the copy in force held by
the runtime, ``rt.erasure_exceptions``);
``erase`` does it in the caller's transaction and records one ``subject.erase`` event naming every item, the
action taken and the exception that kept it. Planning and erasing use the same function, so the preview HR sees
is what is carried out (re-planned inside the erasing transaction).

An employee's cases (where they are the person harassed):
- under legal hold → kept (``legal_hold``); open → kept (``open_case``); closed but within the ``closed_case``
  retention rule's period → kept (``retention_period``) unless HR judged that no legal claim needs it
  (``erase_within_retention``, recorded); closed and past the period → erased now, exactly as the retention run
  erases it (tracker.privacy.retention.erase_case: blobs, letters, texts, search and near-duplicate index,
  event details; an anonymous tombstone stays so the statistics do not change).
- The account is always closed (inactive, sessions ended, API tokens revoked, single-sign-on identity cleared).
  Its name and e-mail are pseudonymised (``Slettet bruger <id>``) only when no case that is kept names the
  person (as employee or reporter) or holds an event they did; otherwise they stay (``case_record``) and a later
  request can pseudonymise them. Audit events keep their actor id (it is inside each event's hash); the details
  of events about the account (its e-mail) are blanked like retention blanks a case's events.
- Letters, attachments and evidence go with their case. Cases of other employees the person only handled are
  not theirs: they stay, and their history names the person until the account is pseudonymised.

An offender's record: erased (handle, profile, name, note; tracker.privacy.retention.erase_offender) when no
case that is kept links to it; a linked case past its retention period is erased with it (it is due anyway);
otherwise the record is kept under the linked case's exception.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from storage.models import (ApiToken, AuditEvent, Case, CaseOffender, Evidence, Letter, Offender, Role, User)
from storage.types import utcnow
from tracker import uow
from tracker.accounts.users import end_sessions
from tracker.errors import DomainError
from tracker.oversight import audit
from tracker.privacy.retention import delete_unreferenced_blobs, erase_case, erase_offender
from tracker.packaging.exports import job_dir
from tracker.workflow.erasure import ErasureException
from tracker.workflow.retention import RetentionRule, RetentionRules, Source

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

REQUEST_RULE_ID = "art17_request"  #: the "rule" an erasure on request records on the case (``case.erased_rule``)
REASON_MAX = 2000
ERASE_ROLES = (Role.hr, Role.admin)
PSEUDONYM_DOMAIN = "slettet.invalid"  #: an erased account's e-mail: slettet-<id>@slettet.invalid (RFC 2606)
#: the order an offender record takes the exception of its linked cases in (the strongest first)
STRENGTH = ("legal_hold", "open_case", "retention_period")

#: what an erasure on request records as its rule (case.erase / offender.erase events, ``erased_rule``)
REQUEST_RULE = RetentionRule(
    id=REQUEST_RULE_ID, applies_to="closed_case", keep_days=0, enforced=True,
    label_da="Sletning efter anmodning (databeskyttelsesforordningen art. 17)",
    note_da="Slettet, fordi den registrerede bad om det, og ingen undtagelse i art. 17, stk. 3 gjaldt.",
    sources=(Source(text="Databeskyttelsesforordningen art. 17, stk. 1: retten til sletning.",
                    url="https://eur-lex.europa.eu/eli/reg/2016/679/oj", verified=True,
                    checked="Ordlyd læst på gdprhub.eu 4.12.2026."),))

# -- the decision -----------------------------------------------------------------------------------


def case_decision(case: Case, closed_rule: RetentionRule | None, as_of: datetime, *,
                  erase_within_retention: bool = False) -> tuple[str, str | None]:
    """(action, exception kind) for one case on a request: ("already_erased", None), ("keep", "legal_hold" |
    "open_case" | "retention_period") or ("erase", None). With no enforced ``closed_case`` rule a closed case
    has no retention period to wait for."""
    if case.erased_at is not None:
        return "already_erased", None
    if case.hold_at is not None:
        return "keep", "legal_hold"
    if case.status != "closed" or case.closed_at is None:
        return "keep", "open_case"
    if closed_rule is not None and case.closed_at >= closed_rule.due_before(as_of) and not erase_within_retention:
        return "keep", "retention_period"
    return "erase", None


_KIND_OF = {"legal_hold": "legal_hold", "open_case": "open_case", "retention_period": "retention",
            "case_record": "case_record", "audit_trail": "audit_trail", "journal": "journal"}


@dataclass
class Item:
    """One line of a plan: what (``kind``, ``ref``), what happens (``action``) and why it is kept (``exception``)."""

    kind: str  #: case | account | offender | audit_events | journal
    ref: str  #: case ref, "user <id>", "offender <id>", ""
    action: str  #: erase | keep | already_erased | pseudonymise | close_account | note
    exception: str | None = None  #: a key of the exceptions (legal_hold, open_case, retention_period, …)
    counts: dict[str, int] = field(default_factory=dict)  #: what the item holds (evidence, letters, events …)
    refs: list[str] = field(default_factory=list)  #: the kept cases an account or offender record is kept for

    def line(self) -> str:
        what = {"case": f"case {self.ref}", "account": f"account ({self.ref})",
                "offender": f"offender record ({self.ref})", "audit_events": "audit events",
                "journal": "the municipality's journal (ESDH)"}[self.kind]
        counts = ", ".join(f"{n} {k}" for k, n in self.counts.items() if n)
        action = {"erase": "erase", "keep": "keep", "already_erased": "already erased",
                  "pseudonymise": "close and pseudonymise (name and e-mail replaced)",
                  "close_account": "close (no login, tokens revoked); name and e-mail kept",
                  "note": "not in Værn: check it there"}[self.action]
        out = f"{what}: {action}"
        if counts:
            out += f" ({counts})"
        if self.exception:
            out += f" — exception {self.exception}"
        if self.refs:
            out += f" — for case(s) {', '.join(self.refs[:10])}{' …' if len(self.refs) > 10 else ''}"
        return out


@dataclass
class Plan:
    """What a request erases and keeps, item by item (``exceptions``: the exceptions named, for the page)."""

    subject: str  #: user | offender
    subject_id: int
    as_of: datetime
    erase_within_retention: bool
    items: list[Item]
    exceptions: dict[str, ErasureException]

    @property
    def to_erase(self) -> list[Item]:
        return [i for i in self.items if i.action in ("erase", "pseudonymise")]

    @property
    def kept(self) -> list[Item]:
        return [i for i in self.items if i.exception]

    def exception(self, item: Item) -> ErasureException | None:
        return self.exceptions.get(_KIND_OF[item.exception]) if item.exception else None

    def lines(self) -> list[str]:
        out = [i.line() for i in self.items]
        for key in dict.fromkeys(i.exception for i in self.kept):
            exc = self.exceptions[_KIND_OF[key]]
            out.append(f"exception {key}: {exc.article} — {exc.label_da}")
        return out


def _require(actor: User | None) -> None:
    if actor is not None and not (actor.active and actor.role in ERASE_ROLES):
        raise DomainError("not_allowed", "only HR or an administrator may erase a person on request")


def _case_item(session: Session, case: Case, action: str, exception: str | None) -> Item:
    counts = {}
    if action in ("erase", "keep"):
        counts = {"evidence": session.scalar(select(func.count()).select_from(Evidence)
                                             .where(Evidence.case_id == case.id)) or 0,
                  "letters": session.scalar(select(func.count()).select_from(Letter)
                                            .where(Letter.case_id == case.id)) or 0}
    return Item("case", case.ref, action, exception, counts)


def is_pseudonymised(user: User) -> bool:
    return user.email.endswith("@" + PSEUDONYM_DOMAIN)


def plan_for_user(session: Session, user: User, rules: RetentionRules, exceptions: dict[str, ErasureException],
                  as_of: datetime, *, erase_within_retention: bool = False, actor: User | None = None) -> Plan:
    """What erasing ``user`` on their request would erase and keep (nothing is changed)."""
    _require(actor)
    closed_rule = rules.enforced("closed_case")
    items: list[Item] = []
    erased_ids: set[int] = set()
    for case in session.execute(select(Case).where(Case.employee_id == user.id).order_by(Case.id)).scalars():
        action, exception = case_decision(case, closed_rule, as_of, erase_within_retention=erase_within_retention)
        if action != "keep":
            erased_ids.add(case.id)
        items.append(_case_item(session, case, action, exception))
    involved = select(AuditEvent.case_id).where(AuditEvent.actor_id == user.id, AuditEvent.case_id.is_not(None))
    kept_refs = list(session.execute(
        select(Case.ref).where(Case.erased_at.is_(None), Case.id.not_in(erased_ids) if erased_ids else true(),
                               or_(Case.employee_id == user.id, Case.reported_by_id == user.id, Case.id.in_(involved)))
        .order_by(Case.id)).scalars())
    if is_pseudonymised(user):
        items.append(Item("account", f"user {user.id}", "already_erased"))
    elif kept_refs:
        items.append(Item("account", f"user {user.id}", "close_account", "case_record", refs=kept_refs))
    else:
        items.append(Item("account", f"user {user.id}", "pseudonymise"))
    acted = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.actor_id == user.id)) or 0
    about = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "user", AuditEvent.object_id == str(user.id))) or 0
    items.append(Item("audit_events", "", "keep", "audit_trail",
                      {"done by the person": acted, "about the account": about}))
    items.append(Item("journal", "", "note", "journal"))
    return Plan("user", user.id, as_of, erase_within_retention, items, exceptions)


def plan_for_offender(session: Session, offender: Offender, rules: RetentionRules,
                      exceptions: dict[str, ErasureException], as_of: datetime, *,
                      erase_within_retention: bool = False, actor: User | None = None) -> Plan:
    """What erasing an offender's record on their request would erase and keep (nothing is changed)."""
    _require(actor)
    closed_rule = rules.enforced("closed_case")
    items: list[Item] = []
    kept: list[tuple[str, str]] = []
    cases = session.execute(select(Case).join(CaseOffender, CaseOffender.case_id == Case.id)
                            .where(CaseOffender.offender_id == offender.id, CaseOffender.state != "dismissed")
                            .order_by(Case.id)).scalars()
    for case in cases:
        action, exception = case_decision(case, closed_rule, as_of, erase_within_retention=erase_within_retention)
        items.append(_case_item(session, case, action, exception))
        if exception:
            kept.append((case.ref, exception))
    ref = f"offender {offender.id}"
    if offender.erased_at is not None:
        items.insert(0, Item("offender", ref, "already_erased"))
    elif kept:
        strongest = min((e for _r, e in kept), key=STRENGTH.index)
        items.insert(0, Item("offender", ref, "keep", strongest, refs=[r for r, _e in kept]))
    else:
        items.insert(0, Item("offender", ref, "erase"))
    items.append(Item("audit_events", "", "keep", "audit_trail"))
    items.append(Item("journal", "", "note", "journal"))
    return Plan("offender", offender.id, as_of, erase_within_retention, items, exceptions)


# -- the erasure ------------------------------------------------------------------------------------
def _reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError("erasure_reason_empty", "say why (e.g. the request's date and how it came)", "reason")
    if len(reason) > REASON_MAX:
        raise DomainError("too_long", "the reason is too long", "reason")
    return reason


def _pseudonymise(session: Session, user: User) -> int:
    """Replace the account's name and e-mail, and blank the details of the events about it; the events blanked."""
    old_email = user.email
    user.name = f"Slettet bruger {user.id}"
    user.email = f"slettet-{user.id}@{PSEUDONYM_DOMAIN}"
    user.language = None
    blanked = 0
    events = session.execute(select(AuditEvent).where(
        or_((AuditEvent.object_type == "user") & (AuditEvent.object_id == str(user.id)),
            AuditEvent.action.in_(("auth.login_failed", "auth.sso_refused", "auth.sso_failed")))
        & (AuditEvent.action != "subject.erase")).order_by(AuditEvent.id)).scalars()
    for ev in events:
        if ev.object_id != str(user.id) and (ev.details or {}).get("email") != old_email:
            continue  # a failed login for someone else
        blanked += audit.erase_details(ev, REQUEST_RULE_ID)
    return blanked


def _close_account(session: Session, user: User) -> int:
    """No login any more: inactive, sessions ended, API tokens revoked, no single-sign-on identity."""
    user.active = False
    user.password_hash = "!erased"
    user.oidc_issuer = user.oidc_subject = None
    end_sessions(user)
    now, revoked = utcnow(), 0
    for token in session.execute(select(ApiToken).where(ApiToken.user_id == user.id,
                                                        ApiToken.revoked_at.is_(None))).scalars():
        token.revoked_at, revoked = now, revoked + 1
    return revoked


@dataclass
class Done:
    """What ``erase`` did (the plan it carried out, and the event recording it)."""

    plan: Plan
    event_id: int
    blobs: set[str] = field(default_factory=set)
    exports: list[int] = field(default_factory=list)


def erase(rt: "Runtime", session: Session, subject: User | Offender, actor: User | None, reason: str,
          rules: RetentionRules, exceptions: dict[str, ErasureException], as_of: datetime, *,
          erase_within_retention: bool = False) -> Done:
    """Carry out the plan for ``subject`` in this transaction and record ``subject.erase``; the evidence files are
    deleted from the store after the commit (only those no remaining row refers to)."""
    reason = _reason(reason)
    if isinstance(subject, User):
        if actor is not None and subject.id == actor.id:
            raise DomainError("erase_self", "another HR user or an administrator must carry out your own request")
        plan = plan_for_user(session, subject, rules, exceptions, as_of, erase_within_retention=erase_within_retention,
                             actor=actor)
    else:
        plan = plan_for_offender(session, subject, rules, exceptions, as_of,
                                 erase_within_retention=erase_within_retention, actor=actor)
    done = Done(plan, 0)
    for item in plan.items:
        if item.kind == "case" and item.action == "erase":
            case = session.execute(select(Case).where(Case.ref == item.ref)).scalar_one()
            blobs, jobs = erase_case(session, case, REQUEST_RULE, as_of)
            done.blobs |= blobs
            done.exports += jobs
    extra: dict[str, object] = {}
    if isinstance(subject, User):
        account = next(i for i in plan.items if i.kind == "account")
        if account.action != "already_erased":
            extra["tokens_revoked"] = _close_account(session, subject) or None
        if account.action == "pseudonymise":
            extra["events_blanked"] = _pseudonymise(session, subject)
    else:
        record = plan.items[0]
        if record.action == "erase":
            erase_offender(session, subject, REQUEST_RULE, as_of)
    session.flush()
    ev = audit.record(
        session, actor, "subject.erase", plan.subject, plan.subject_id, None, reason=reason, as_of=as_of.isoformat(),
        erase_within_retention=erase_within_retention or None,
        erased=[f"{i.kind}:{i.ref}" if i.ref else i.kind for i in plan.items if i.action in ("erase", "pseudonymise")],
        closed=[i.ref for i in plan.items if i.action == "close_account"] or None,
        kept=[{"item": f"{i.kind}:{i.ref}" if i.ref else i.kind, "exception": plan.exceptions[_KIND_OF[i.exception]].id,
               "article": plan.exceptions[_KIND_OF[i.exception]].article} for i in plan.kept],
        **extra)
    done.event_id = ev.id
    blobs, exports = set(done.blobs), list(done.exports)
    if blobs or exports:
        uow.after_commit(session, lambda: delete_files(rt, blobs, exports))
    return done


def delete_files(rt: "Runtime", blobs: set[str], exports: list[int]) -> tuple[int, list]:
    """After the erasing commit: the export files of the erased cases and every blob no row refers to any more
    (a blob under an S3 lock is left and deleted by a retention run once the lock has ended)."""
    for job_id in exports:
        shutil.rmtree(job_dir(rt, job_id), ignore_errors=True)
    return delete_unreferenced_blobs(rt, blobs)


def user_by_email(session: Session, email: str) -> User:
    user = session.execute(select(User).where(func.lower(User.email) == (email or "").strip().lower())).scalar()
    if user is None:
        raise DomainError("no_such_user", "no user has that e-mail address", "email")
    return user


def offender_by_id(session: Session, offender_id: int) -> Offender:
    offender = session.get(Offender, offender_id)
    if offender is None:
        raise DomainError("no_such_offender", "no offender record has that number", "offender")
    return offender
