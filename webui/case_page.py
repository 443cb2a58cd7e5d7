"""What the top of a case page says: the leader's cockpit and the employee's calm view.

The leader (and HR, AMR) reads what happened, the picture of the post, the next action with its deadline
and who has been told, then the sections below. The employee who reported sees their evidence and, in
plain words, what happens next for them — the server does not build the deadlines, ladder, offenders or
letters for them at all (``employee_context`` is all their page gets).
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import format_datetime, get_locale
from flask_login import current_user
from sqlalchemy import select

from storage.models import AuditEvent, Case, EvidenceState, NotificationSent, Recheck, Role, StepState, User
from storage.types import utcnow
from tracker.cases.casefile import case_overview
from tracker.oversight import history
from tracker.oversight.event_text import sentence
from tracker.workflow import recheck, redress
from tracker.workflow import steps as ops
from tracker.workflow.next_action import next_actions
from webui import workflow
from webui.db import db, runtime
from webui.forms.workflow import RungAndStateForm
from webui.timefmt import format_local

#: deadlines the cockpit names besides the next action (the 72-hour police clock is always among them)
ALSO_SHOWN = 2
#: timeline entries the employee sees: what happened to their report, not the leader's working steps
EMPLOYEE_TIMELINE = frozenset({"case.create", "evidence.request", "evidence.captured", "evidence.timestamped",
                               "case.close", "case.reopen", "recheck.decided"})
#: checklist steps that involve the employee, in the order "Hvad sker der nu" tells them
EMPLOYEE_STEPS = ("leader_conversation", "police_report", "work_injury_report", "follow_up")


def calm_view(user: User, case: Case) -> bool:
    """The employee who reported gets the calm page; everyone else (leader, HR, AMR, admin) the cockpit."""
    return user.role is Role.employee


def weekday_due(due: datetime) -> str:
    """``fredag 05.12.2026 kl. 11.05``, ``Friday 05.12.2026 at 11:05`` in the page's language."""
    return f"{format_datetime(due, 'EEEE')} {format_local(due)}"


def action_text(action) -> str:
    return action.action_da if str(get_locale()) == "da" else action.action_en


def who_was_told(session, case: Case) -> list[dict]:
    """Each leader of the case's unit who got the new-case e-mail or opened the case, with when; only
    what Værn recorded (a sent mail, an audited view), so nothing is claimed that did not happen."""
    told: dict[int, dict] = {}
    for n in session.execute(select(NotificationSent).where(NotificationSent.case_id == case.id,
                                                            NotificationSent.kind == "case_opened")
                             .order_by(NotificationSent.sent_at)).scalars():
        told.setdefault(n.recipient_id, {"mailed_at": None, "opened_at": None})
        told[n.recipient_id]["mailed_at"] = told[n.recipient_id]["mailed_at"] or n.sent_at
    leaders = {u.id: u for u in _unit_leaders(session, case)}
    for e in session.execute(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "case.view",
                                                      AuditEvent.actor_id.in_(leaders or [0]))
                             .order_by(AuditEvent.id)).scalars():
        told.setdefault(e.actor_id, {"mailed_at": None, "opened_at": None})
        told[e.actor_id]["opened_at"] = told[e.actor_id]["opened_at"] or e.at
    people = {u.id: u for u in session.execute(select(User).where(User.id.in_(told or [0]))).scalars()}
    out = [dict(user=people[uid], **when) for uid, when in told.items() if uid in people]
    return sorted(out, key=lambda t: min(x for x in (t["mailed_at"], t["opened_at"]) if x is not None))


def _unit_leaders(session, case: Case) -> list[User]:
    return list(session.execute(select(User).where(User.unit_id == case.unit_id, User.role == Role.leader)).scalars())


def cover_picture(case: Case):
    """(evidence, artifact name) of the picture of the post the cockpit shows, or None."""
    from webui.cases import thumbnail  # reason: cycle — webui.cases registers this module's views

    return thumbnail(case)


def main_evidence(case: Case):
    """The evidence the cockpit summarises: the first secured one, else the first at all."""
    done = [e for e in case.evidence if e.state is EvidenceState.done]
    return done[0] if done else (case.evidence[0] if case.evidence else None)


def cockpit_context(case: Case, page: dict, now: datetime | None = None) -> dict:
    """The cockpit's data; ``page`` is ``webui.workflow.page_context`` (rules, suggestion, timeline …)."""
    now = now or page.get("now") or utcnow()
    session = db()
    overview = case_overview(session, case, page["rules"], now)
    suggestion = page.get("suggestion")
    actions = next_actions(overview, now, suggestion.step.id if suggestion else None)
    first = actions[0] if actions else None
    counting = [a for a in actions[1:] if a.due is not None][:ALSO_SHOWN]
    police = next((a for a in actions if a.step_id == ops.POLICE_REPORT), None)
    if police is not None and police is not first and police not in counting:
        counting = [*counting[:ALSO_SHOWN - 1], police]
    authors = sorted({e.author_handle for e in case.evidence if e.author_handle})
    return dict(cockpit=dict(next=first, also=counting, picture=cover_picture(case), evidence=main_evidence(case),
                             told=who_was_told(session, case), authors=authors,
                             mail_off=not runtime().settings.smtp_host))


def redress_context(case: Case) -> dict:
    """The ladder's advice by category (Datatilsynet only where personal data is misused; defamation → private
    prosecution or the police), the certified dispute bodies for the case's platform and the trusted flaggers
    the municipality works with (tracker/workflow/rules/redress.toml)."""
    data = redress.shipped()
    advice = data.advice_for(redress.case_category(case))
    by_step: dict[str, list] = {}
    for a in advice:
        by_step.setdefault(a.step, []).append(a)
    return dict(advice_by_step=by_step, other_routes=[a for a in advice if a.step in redress.OTHER_ROUTES],
                dispute_bodies=data.bodies_for(case.platform), trusted_flaggers=data.trusted_flaggers)


def employee_context(case: Case, user: User, now: datetime | None = None) -> dict:
    """All the employee's case page gets: evidence, their steps in plain words, who knows, a short history."""
    now = now or utcnow()
    session = db()
    rules = workflow.rules()
    rows = ops.step_rows(session, case)
    clocks = ops.clock_rows(session, case)
    police_deadline = next((d for d in ops.case_deadlines(case, rules, rows, clocks, now)
                            if d.rule.id == ops.POLICE_REPORT), None)
    steps = {}
    for step_id in EMPLOYEE_STEPS:
        row = rows.get(step_id)
        steps[step_id] = dict(state=row.state.value if row else StepState.todo.value,
                              done_at=row.done_at if row else None,
                              declined=bool(row and row.outcome == ops.DECLINED))
    conversation = next((s for s in rules.checklist if s.id == "leader_conversation"), None)
    events = [e for e in session.execute(select(AuditEvent).where(AuditEvent.case_id == case.id)
                                         .order_by(AuditEvent.id)).scalars() if e.action in EMPLOYEE_TIMELINE]
    names = history.names_for(session, events, rules=rules, lang=str(get_locale()))
    actors = {e.actor_id for e in events if e.actor_id}
    people = {u.id: u for u in session.execute(select(User).where(User.id.in_(actors or [0]))).scalars()}
    has_url = bool(recheck.baselines_of(session, case))
    rechecks = list(session.execute(select(Recheck).where(Recheck.case_id == case.id)
                                    .order_by(Recheck.id.desc()).limit(workflow.RECHECKS_SHOWN)).scalars())
    deciders = {r.decided_by_id for r in rechecks if r.decided_by_id} - set(people)
    people.update({u.id: u for u in session.execute(select(User).where(User.id.in_(deciders or [0]))).scalars()})
    return dict(
        rechecks=rechecks, has_captured_url=has_url, can_recheck=has_url and user.role in recheck.MAY_REQUEST,
        verified_evidence=recheck.verified_removal(session, case) if has_url else None, people=people,
        **workflow.recheck_page_context(session, case, user),
        rules=rules, can_change={}, near_duplicates={}, my_steps=steps, conversation_rule=conversation,
        police_deadline=police_deadline if police_deadline and police_deadline.pending else None,
        told=who_was_told(session, case), mail_off=not runtime().settings.smtp_host,
        watching=has_url,
        timeline=[(e, people.get(e.actor_id), sentence(e, names)) for e in events],
    )


# -- one form per ladder rung -----------------------------------------------------------------------
def save_rung(ref: str, step_id: str):
    """The rung's one form (cases/_rung_form.html): its record, then — only when the leader chose one — its
    state with reason; otherwise a changed note. One transaction, the usual audit events of both operations."""
    workflow._rung_or_404(step_id)

    def op(session, case, form: RungAndStateForm):
        user, rules = current_user.user, workflow.rules()
        row = ops.record_rung(session, case, step_id, user, form.sent_at.data, form.channel.data,
                              form.platform_ref.data, form.outcome.data, form.statement_of_reasons.data, rules=rules,
                              **form.times())
        note = form.note_sent()
        if form.state.data:
            ops.set_state(session, case, step_id, form.state.data, user, reason=form.reason.data, note=note,
                          rules=rules)
        elif note is not None and note.strip() != (row.note or "").strip():
            ops.set_state(session, case, step_id, row.state, user, reason=row.reason, note=note,
                          done_at=row.done_at, rules=rules)
    return workflow.run_on_case(ref, f"step-{step_id}", op, form=RungAndStateForm)
