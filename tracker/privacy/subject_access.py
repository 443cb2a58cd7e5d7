"""What Værn holds about one employee, for their right of access (GDPR art. 15; issue 16.4).

``gather`` reads, for one person, the document ``subject.json`` of the access package (schema
``vaern.subject-access/1``, docs/subject-access.md) and the list of stored files that go with it. The package
itself (ZIP, PDF, manifest) is ``tracker.packaging.subject_export``; the HR page's job is
``tracker.packaging.subject_jobs``.

What is "about them" (the choices, also printed in the PDF):

- **their cases**: the cases where they are the employee harassed (``Case.employee_id``), with the case's
  facts, steps, clocks, evidence (every stored file with its SHA-256), step attachments and letters (drafts
  too, marked as drafts). A case they only reported for a colleague is listed by number and date, without
  its content: it is the colleague's case (art. 15(4)).
- **audit events**: those where they are the actor; those on their cases (whoever acted: a leader's or HR's
  reading of their case is processing of their data); those whose object is their user account. An event of
  theirs on someone else's case keeps its time, action and object type, but not its details (art. 15(4)); so
  does an event about the offender register on their case (``withheld_because``).
- **others' data in their cases** is included where it is part of the employee's own case: the captured post
  (the offender's name and words as published, which the employee reported) and the names and roles of the
  municipality's staff who handled the case. Left out: the offender register's profile and classification of
  the offender (the municipality's assessment of a third person, not data about the employee), other cases
  where the same offender was seen, and near-duplicate matches across cases.
- **not handed out for security** (art. 15(4)): the password hash, API token hashes, the login throttle.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.models import (ApiToken, AuditEvent, Case, CaseOffender, CaseStep, Evidence, EvidenceState, Letter,
                            NotificationSent, StepAttachment, User)
from tracker import __version__
from tracker.errors import NotFound
from tracker.oversight.event_text import Names, sentence
from tracker.workflow.retention import RetentionRules

SCHEMA = "vaern.subject-access/1"
#: why an event is in the extract (``reasons`` of each event)
ACTOR, OWN_CASE, ACCOUNT = "actor", "own_case", "account"
#: what each letter template is addressed to, in Danish (recipients, art. 15(1)(c))
LETTER_RECIPIENTS = {
    "request_to_author": "opslagets ophavsmand", "dsa_notice": "platformen (anmeldelse efter DSA art. 16)",
    "datatilsynet_complaint": "Datatilsynet", "declined_police_report_note": "ingen (internt notat)",
    "citizen_channels_letter": "borgeren, der skrev opslaget", "police_evidence_annex": "politiet"}


@dataclass(frozen=True)
class StoredFile:
    """A stored blob that goes into the package at ``path`` (content-addressed: ``sha256`` is its name)."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class SubjectAccess:
    """The person, ``document`` (subject.json as a dict) and the stored files it names."""

    subject_id: int
    document: dict[str, Any]
    files: tuple[StoredFile, ...]


def find_subject(session: Session, email: str) -> User:
    """The user with this e-mail (any case, trimmed); NotFound otherwise (deactivated users too are found)."""
    user = session.execute(select(User).where(User.email == (email or "").strip().lower())).scalar()
    if user is None:
        raise NotFound("user")
    return user


def subject_cases(session: Session, subject: User) -> list[Case]:
    """The cases where ``subject`` is the employee harassed, oldest first."""
    return list(session.execute(select(Case).where(Case.employee_id == subject.id).order_by(Case.id)).scalars())


def reported_for_others(session: Session, subject: User) -> list[Case]:
    """Cases ``subject`` reported for someone else (listed without content)."""
    return list(session.execute(select(Case).where(Case.reported_by_id == subject.id,
                                                   Case.employee_id != subject.id).order_by(Case.id)).scalars())


def events_about(session: Session, subject: User, case_ids: list[int]) -> list[tuple[AuditEvent, list[str]]]:
    """The audit events about ``subject`` with why each is included (ACTOR, OWN_CASE, ACCOUNT), oldest first."""
    conditions = [AuditEvent.actor_id == subject.id,
                  (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(subject.id))]
    if case_ids:
        conditions.append(AuditEvent.case_id.in_(case_ids))
    rows = session.execute(select(AuditEvent).where(or_(*conditions)).order_by(AuditEvent.id)).scalars()
    own = set(case_ids)
    out = []
    for ev in rows:
        reasons = [r for r, hit in ((ACTOR, ev.actor_id == subject.id), (OWN_CASE, ev.case_id in own),
                                    (ACCOUNT, ev.object_type == "user" and ev.object_id == str(subject.id))) if hit]
        out.append((ev, reasons))
    return out


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _person(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "name": user.name, "role": user.role.value}


def case_folder(case: Case) -> str:
    return f"cases/{case.ref}"


def evidence_folder(case: Case, ev: Evidence) -> str:
    return f"{case_folder(case)}/evidence/{ev.id}"


def gather(session: Session, subject: User, *, retention: RetentionRules, now: datetime,
           step_label=None, safe_name=None) -> SubjectAccess:
    """Everything Værn holds about ``subject`` as the subject.json document and its stored files.

    ``step_label`` names checklist steps in the event sentences; ``safe_name`` (name → bool) says whether an
    artifact's name may be a path in the package (the case package's rule).
    """
    cases = subject_cases(session, subject)
    people = {u.id: u for u in session.execute(select(User)).scalars()}
    names = Names("da", step_label, {uid: u.name for uid, u in people.items()})
    files: list[StoredFile] = []
    case_docs = [_case_doc(session, case, people, retention, files, safe_name) for case in cases]
    events = events_about(session, subject, [c.id for c in cases])
    refs = dict(session.execute(select(Case.id, Case.ref)).all()) if events else {}
    own = {c.id for c in cases}
    document = {
        "schema": SCHEMA, "vaern_version": __version__, "exported_at": _iso(now),
        "subject": _account(session, subject),
        "cases": case_docs,
        "cases_reported_for_others": [
            {"ref": c.ref, "reported_at": _iso(c.created_at), "content": "withheld_other_persons_case"}
            for c in reported_for_others(session, subject)],
        "audit_events": [_event_doc(ev, reasons, people, names, refs, own) for ev, reasons in events],
        "notifications": [
            {"kind": n.kind, "sent_at": _iso(n.sent_at), "case_ref": refs.get(n.case_id) if n.case_id in own else None}
            for n in session.execute(select(NotificationSent).where(NotificationSent.recipient_id == subject.id)
                                     .order_by(NotificationSent.id)).scalars()],
        "retention_rules": [{"id": r.id, "applies_to": r.applies_to, "keep_years": r.keep_years,
                             "keep_days": r.keep_days, "enforced": r.enforced, "label_da": r.label_da}
                            for r in retention.rules],
        "withheld": WITHHELD,
    }
    files.sort(key=lambda f: f.path)
    return SubjectAccess(subject.id, document, tuple(files))


#: what the package leaves out and why (art. 15(4)); the same words are printed in the PDF
WITHHELD = [
    {"what": "offender_register", "why_da": "Krænkerregistrets profil og typebeskrivelse af gerningspersonen og "
     "hvilke andre sager, personen er set i: oplysninger om en anden person og andre medarbejderes sager "
     "(registrets hændelser i dine sager står med tid og handling, uden detaljer)."},
    {"what": "near_duplicates", "why_da": "Lighed med beviser i andre sager: andre medarbejderes sager."},
    {"what": "other_persons_cases", "why_da": "Indholdet af sager, du har anmeldt for en kollega, og detaljerne "
     "i dine handlinger i andres sager: kollegaens oplysninger (sager, du har anmeldt, står med sagsnummer og "
     "dato; dine handlinger i andres sager med tid og handling)."},
    {"what": "security_secrets", "why_da": "Adgangskodens hash, API-nøglernes hash og låsning efter forkerte "
     "adgangskoder: sikkerhedsforanstaltninger, der ikke må udleveres."},
]


def _account(session: Session, u: User) -> dict[str, Any]:
    tokens = session.execute(select(ApiToken).where(ApiToken.user_id == u.id).order_by(ApiToken.id)).scalars()
    return {"id": u.id, "email": u.email, "name": u.name, "role": u.role.value,
            "unit": u.unit.name if u.unit else None, "active": u.active, "language": u.language,
            "created_at": _iso(u.created_at), "last_login_at": _iso(u.last_login_at),
            "single_sign_on": ({"issuer": u.oidc_issuer, "subject": u.oidc_subject} if u.oidc_subject else None),
            "api_tokens": [{"name": t.name, "created_at": _iso(t.created_at), "last_used_at": _iso(t.last_used_at),
                            "expires_at": _iso(t.expires_at), "revoked_at": _iso(t.revoked_at)} for t in tokens]}


def retention_due(case: Case, retention: RetentionRules) -> dict[str, Any]:
    """When the case's content is due for erasure under the enforced closed-case rule (or why not yet known)."""
    rule = retention.enforced("closed_case")
    if case.erased_at is not None:
        return {"state": "erased", "erased_at": _iso(case.erased_at), "rule": case.erased_rule}
    if case.hold_at is not None:
        return {"state": "legal_hold", "since": _iso(case.hold_at), "rule": rule.id if rule else None}
    if rule is None:
        return {"state": "no_enforced_rule", "rule": None}
    if case.closed_at is None:
        return {"state": "open", "rule": rule.id, "keep_after_closing_days": rule.keep.days,
                "keep_after_closing_years": rule.keep_years}
    return {"state": "closed", "rule": rule.id, "due_at": _iso(case.closed_at + rule.keep)}


def _case_doc(session: Session, case: Case, people: dict[int, User], retention: RetentionRules,
              files: list[StoredFile], safe_name) -> dict[str, Any]:
    erased = case.erased_at is not None
    steps = list(session.execute(select(CaseStep).where(CaseStep.case_id == case.id).order_by(CaseStep.id)).scalars())
    evidence = []
    for ev in sorted(case.evidence, key=lambda e: e.id):
        packaged = not erased and ev.state is EvidenceState.done
        items = []
        for art in ev.artifacts:
            path = None
            if packaged and (safe_name is None or safe_name(art.name)):
                path = f"{evidence_folder(case, ev)}/{art.name}"
                files.append(StoredFile(path, art.sha256, art.size))
            items.append({"name": art.name, "role": art.role, "media_type": art.media_type, "size": art.size,
                          "sha256": art.sha256, "path": path})
        evidence.append({"id": ev.id, "kind": ev.kind, "source_url": ev.source_url,
                         "original_filename": ev.original_filename, "state": ev.state.value,
                         "capture_status": ev.capture_status, "fingerprint": ev.fingerprint,
                         "requested_by": _person(people.get(ev.created_by_id)), "requested_at": _iso(ev.created_at),
                         "finished_at": _iso(ev.finished_at), "timestamp_gen_time": _iso(ev.timestamp_gen_time),
                         "error": ev.error, "files": items})
    attachments = []
    for step in steps:
        for att in step.attachments:
            path = None
            if att.sha256 and not erased:
                path = f"{case_folder(case)}/attachments/{att.id}"
                files.append(StoredFile(path, att.sha256, att.size or 0))
            attachments.append({"id": att.id, "step": step.step_id, "evidence_id": att.evidence_id,
                                "filename": att.filename, "media_type": att.media_type, "size": att.size,
                                "sha256": att.sha256, "path": path, "created_at": _iso(att.created_at),
                                "created_by": _person(people.get(att.created_by_id))})
    letters = session.execute(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)).scalars()
    offenders = session.execute(select(CaseOffender.id).where(CaseOffender.case_id == case.id,
                                                              CaseOffender.state == "confirmed")).all()
    return {
        "ref": case.ref, "unit": case.unit.name, "employee": _person(case.employee),
        "reported_by": _person(case.reported_by), "created_at": _iso(case.created_at),
        "episode_at": _iso(case.episode_at), "status": case.status, "closed_at": _iso(case.closed_at),
        "category": case.category, "platform": case.platform, "description": case.description,
        "author_known": case.author_known, "private_information_disclosed": case.private_information_disclosed,
        "defamatory": case.defamatory,
        "legal_hold": ({"since": _iso(case.hold_at), "reason": case.hold_reason,
                        "by": _person(people.get(case.hold_by_id))} if case.hold_at else None),
        "retention": retention_due(case, retention),
        "steps": [{"step": s.step_id, "state": s.state.value, "reason": s.reason, "note": s.note,
                   "done_at": _iso(s.done_at), "sent_at": _iso(s.sent_at), "channel": s.channel,
                   "platform_ref": s.platform_ref, "outcome": s.outcome,
                   "updated_by": _person(people.get(s.updated_by_id)), "updated_at": _iso(s.updated_at)}
                  for s in steps],
        "evidence": evidence,
        "attachments": attachments,
        "letters": [{"id": le.id, "template": le.template_id, "recipient_da": LETTER_RECIPIENTS.get(le.template_id),
                     "subject": le.subject, "body": le.body, "state": "sent" if le.sent_at else "draft",
                     "created_at": _iso(le.created_at), "created_by": _person(people.get(le.created_by_id)),
                     "sent_at": _iso(le.sent_at), "sent_by": _person(people.get(le.sent_by_id))} for le in letters],
        "offender_profiles_linked": len(offenders),
    }


def _event_doc(ev: AuditEvent, reasons: list[str], people: dict[int, User], names: Names, refs: dict[int, str],
               own: set[int]) -> dict[str, Any]:
    others_case = ev.case_id is not None and ev.case_id not in own
    because = "other_persons_case" if others_case else "offender_register" if ev.object_type == "offender" else None
    return {"id": ev.id, "at": _iso(ev.at), "actor": _person(people.get(ev.actor_id)), "action": ev.action,
            "object_type": ev.object_type, "object_id": None if because else ev.object_id,
            "case_ref": None if others_case else refs.get(ev.case_id),
            "details": None if because else (ev.details or {}), "details_withheld": because is not None,
            "withheld_because": because, "text_da": None if because else sentence(ev, names),
            "reasons": reasons, "prev_hash": ev.prev_hash, "hash": ev.hash}
