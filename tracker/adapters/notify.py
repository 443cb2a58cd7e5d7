"""E-mail notifications to leaders: a new case, a verified removal, deadline reminders.

No sensitive content in any mail: the subject and body carry only the case reference, a neutral
sentence and the link ``<base_url>/cases/<ref>`` — never names, post URLs or descriptions. A deadline
mail gives when, not which deadline: its name (a police report, an injunction) says what the case is about,
and a mail is shown on lock screens and forwarded; the case page shows which, one click away. Each
notification goes out once per key (``NotificationSent``): the row is inserted, the mail sent, and
the transaction committed; an SMTP failure rolls the row back, so a later sweep sends it again.
Without ``smtp_host`` every notification is skipped (logged once), never an error.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Callable

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Case, CaseClock, CaseStep, NotificationSent, Recheck, Role, User
from storage.types import utcnow
from tracker import after_commit, uow
from tracker.wording import local_time
from tracker.workflow.recheck import verified_removal
from tracker.workflow.steps import INFORM_LEADER, case_deadlines, done_by_vaern

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime
    from tracker.settings import Settings
    from tracker.workflow.rules import Rules

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 10  #: seconds; a send holds its database transaction open
#: the sweep still tells leaders about cases opened this recently (their first mail failed or was lost)
NEW_CASE_WINDOW = timedelta(days=2)
#: reminder stages before a deadline falls due, latest first
REMINDER_STAGES = (("2h", timedelta(hours=2)), ("24h", timedelta(hours=24)))
_skip_logged = False

TEXTS: dict[str, tuple[str, str, str]] = {  # kind: (subject, Danish sentence, English sentence)
    "case_opened": ("Ny sag {ref} / New case",
                    "Der er oprettet en ny sag i din enhed i Værn. Se den og tag stilling straks.",
                    "A new case was opened in your unit in Værn. Please look at it now."),
    "removal_verified": ("Fjernelse bekræftet i sag {ref} / Removal verified",
                         "Værn har kontrolleret to gange i træk, at indholdet i sagen ikke længere er online.",
                         "Værn re-checked twice in a row that the content of the case is no longer online."),
    "deadline_24h": ("Frist om 24 timer i sag {ref} / Deadline in 24 hours",
                     "En frist i sagen udløber om mindre end 24 timer ({due}).",
                     "A deadline in the case falls due in less than 24 hours ({due})."),
    "deadline_2h": ("Frist om 2 timer i sag {ref} / Deadline in 2 hours",
                    "En frist i sagen udløber om mindre end 2 timer ({due}).",
                    "A deadline in the case falls due in less than 2 hours ({due})."),
    "deadline_overdue": ("Frist overskredet i sag {ref} / Deadline overdue",
                         "En frist i sagen er overskredet ({due}).",
                         "A deadline in the case is overdue ({due})."),
}


# -- composing and sending -----------------------------------------------------------------------
def case_link(settings: "Settings", ref: str) -> str:
    return f"{settings.base_url.rstrip('/')}/cases/{ref}"


def compose(settings: "Settings", kind: str, ref: str, due: datetime | None = None) -> tuple[str, str]:
    """Subject and body of a notification: the reference, a neutral sentence (Danish, then English), the link."""
    subject, da, en = TEXTS[kind]
    when_da = local_time(due, "da") if due is not None else ""
    when_en = local_time(due, "en") if due is not None else ""
    link = case_link(settings, ref)
    body = (f"Sag {ref}\n\n{da.format(due=when_da)}\n{link}\n\n"
            f"Case {ref}\n{en.format(due=when_en)}\n{link}\n\n"
            "-- \nVærn. Svar ikke på denne e-mail. / Do not reply to this e-mail.\n")
    return "Værn: " + subject.format(ref=ref), body


def mail_configured(rt: "Runtime") -> bool:
    """True if an SMTP server is configured; otherwise logs once per process that mail is skipped."""
    global _skip_logged
    if rt.settings.smtp_host:
        return True
    if not _skip_logged:
        _skip_logged = True
        log.warning("no SMTP server configured (VAERN_SMTP_HOST): e-mail notifications are skipped")
    return False


def _smtp_send(settings: "Settings", to: str, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.mail_from, to, subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or "vaern")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    assert settings.smtp_host
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(msg)


def send_once(rt: "Runtime", key: str, recipient_id: int, case_id: int | None, kind: str,
              due: datetime | None = None) -> bool:
    """Send notification ``kind`` about ``case_id`` to one user unless ``key`` was sent before; True if sent.

    SMTP and database conflicts are logged and return False (the row is rolled back: retried later).
    """
    return _send_once(rt, key, recipient_id, case_id, kind,
                      lambda case: compose(rt.settings, kind, case.ref if case else "", due))


def send_text_once(rt: "Runtime", key: str, recipient_id: int, kind: str, subject: str, body: str) -> bool:
    """Like ``send_once`` for a mail about no single case (the MED reminder): the caller gives subject and
    body, which must carry no case content. True if sent; failures are logged and retried later."""
    return _send_once(rt, key, recipient_id, None, kind, lambda case: (subject, body))


def _send_once(rt: "Runtime", key: str, recipient_id: int, case_id: int | None, kind: str,
               message: Callable[[Case | None], tuple[str, str]]) -> bool:
    """Record ``key`` and send ``message(case)`` in one transaction: a failed send rolls the record back."""
    if not mail_configured(rt):
        return False
    try:
        with rt.transaction() as session:
            if session.execute(select(NotificationSent.id).where(NotificationSent.key == key)).scalar():
                return False
            user = session.get(User, recipient_id)
            case = session.get(Case, case_id) if case_id is not None else None
            if user is None or not user.active or not user.email:
                return False
            session.add(NotificationSent(key=key, case_id=case_id, recipient_id=user.id, kind=kind, sent_at=utcnow()))
            session.flush()
            subject, body = message(case)
            if kind == "case_opened" and case is not None:  # rolled back with the row if the send fails
                done_by_vaern(session, case, INFORM_LEADER, "notification", rules=rt.rules, leader_id=user.id)
            _smtp_send(rt.settings, user.email, subject, body)
    except IntegrityError:  # another worker sent it at the same moment
        return False
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("notification %s not sent (will retry): %s", key, exc)
        return False
    log.info("notification %s sent", key)
    return True


def leaders_of(session: Session, unit_id: int) -> list[User]:
    return list(session.execute(select(User).where(User.unit_id == unit_id, User.role == Role.leader,
                                                   User.active.is_(True)).order_by(User.id)).scalars())


def _to_leaders(rt: "Runtime", case_id: int, kind: str, key: str, due: datetime | None = None) -> int:
    """Send ``kind`` to each leader of the case's unit (key: ``<key>:<user id>``); returns how many were sent."""
    with rt.Session() as session:
        case = session.get(Case, case_id)
        leaders = [u.id for u in leaders_of(session, case.unit_id)] if case is not None else []
    if case is not None and not leaders:
        log.warning("case %s has no active leader in its unit to notify (%s)", case.ref, kind)
    return sum(send_once(rt, f"{key}:{uid}", uid, case_id, kind, due) for uid in leaders)


# -- events -----------------------------------------------------------------------------------------
def case_opened(rt: "Runtime", case_id: int) -> int:
    """Tell the unit's leaders that a case was opened."""
    return _to_leaders(rt, case_id, "case_opened", f"case_opened:{case_id}")


def removal_verified(rt: "Runtime", case_id: int) -> int:
    """Tell the unit's leaders that re-checks verified the removal (once per verifying capture)."""
    with rt.Session() as session:
        case = session.get(Case, case_id)
        evidence_id = verified_removal(session, case) if case is not None else None
    if evidence_id is None:
        return 0
    return _to_leaders(rt, case_id, "removal_verified", f"removal_verified:{case_id}:{evidence_id}")


def reminder_stage(due: datetime, now: datetime) -> str | None:
    """``overdue``, ``2h`` or ``24h`` (the latest stage reached), or None when it is further away."""
    left = due - now
    if left < timedelta(0):
        return "overdue"
    return next((name for name, before in REMINDER_STAGES if left <= before), None)


def deadline_reminders(rt: "Runtime", now: datetime, rules: "Rules | None" = None) -> int:
    """Remind the leaders of open cases 24 h and 2 h before a deadline and once it is overdue.

    Which clocks count is ``tracker.workflow.steps.case_deadlines``' answer (met, closed by a skipped step or
    a declined police report, start unknown: no reminder). Only the latest stage reached is sent (a
    case opened 1 h before a deadline gets the 2 h reminder, not the 24 h one too). Returns how many
    were sent.
    """
    if not mail_configured(rt):
        return 0
    if rules is None:
        rules = rt.rules
    todo: list[tuple[int, str, str, datetime]] = []
    with rt.Session() as session:
        cases = list(session.execute(select(Case).where(Case.status == "open")).scalars())
        ids = [c.id for c in cases]
        clocks: dict[int, dict[str, CaseClock]] = {}
        for clock in session.execute(select(CaseClock).where(CaseClock.case_id.in_(ids))).scalars():
            clocks.setdefault(clock.case_id, {})[clock.name] = clock
        rows: dict[int, dict[str, CaseStep]] = {}
        for row in session.execute(select(CaseStep).where(CaseStep.case_id.in_(ids))).scalars():
            rows.setdefault(row.case_id, {})[row.step_id] = row
        for case in cases:
            for view in case_deadlines(case, rules, rows.get(case.id, {}), clocks.get(case.id, {}), now):
                stage = reminder_stage(view.status.due, now) if view.pending and view.status.due else None
                if stage is not None:
                    todo.append((case.id, view.rule.id, stage, view.status.due))
    return sum(_to_leaders(rt, case_id, f"deadline_{stage}", f"deadline:{case_id}:{rule_id}:{stage}", due)
               for case_id, rule_id, stage, due in todo)


def send_due(rt: "Runtime", now: datetime | None = None) -> int:
    """The periodic sweep: new cases and verified removals not yet told, then deadline reminders."""
    if not mail_configured(rt):
        return 0
    now = now or utcnow()
    with rt.Session() as session:
        new = list(session.execute(select(Case.id).where(Case.status == "open",
                                                         Case.created_at >= now - NEW_CASE_WINDOW)).scalars())
        removed = list(session.execute(select(Recheck.case_id).join(Case, Case.id == Recheck.case_id)
                                       .where(Case.status == "open", Recheck.verdict == "removed")
                                       .distinct()).scalars())
    sent = sum(case_opened(rt, case_id) for case_id in new)
    sent += sum(removal_verified(rt, case_id) for case_id in removed)
    return sent + deadline_reminders(rt, now)


# -- "a case was opened", sent after commit --------------------------------------------------------
#: the domain notes new cases in the session (tracker.after_commit); kept under its old name
case_opened_after_commit = after_commit.case_opened


def bind_notify_on_commit(rt: "Runtime") -> None:
    """Make every session of ``rt`` enqueue the new-case notifications its transaction registered, after commit."""

    @event.listens_for(rt.Session, "after_commit")
    def _after_commit(session: Session) -> None:
        if not uow.outer_commit(session):  # a savepoint's release: wait for the real commit
            return
        pending = after_commit.take(session, after_commit.CASES_OPENED)
        if not pending or not mail_configured(rt):
            return
        for case_id in pending:
            try:
                rt.huey.vaern_notify_case_opened(case_id)  # type: ignore[attr-defined]
            except Exception:  # the periodic sweep sends it
                log.exception("could not enqueue the new-case notification for case %s", case_id)
