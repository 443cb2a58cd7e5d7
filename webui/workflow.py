"""The leader's workflow forms on the case page: step states, ladder rungs, the police-report decline,
clock starts, case facts, step attachments, re-checks and a verified removal. Each form posts here and
is redirected back to the case (POST-redirect-GET); step attachments are downloaded from here.

A case you cannot see is a 404; one you see but may not change is a 403 with a calm page.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.utils import secure_filename

from capture.upload import EML, HEIC, JPEG, PDF, PNG, WEBP
from storage.models import AuditEvent, Case, Recheck, Role, StepState, User
from storage.types import utcnow
from tracker.oversight import history
from tracker.cases import files, lifecycle
from tracker.cases import hold as legal_hold
from tracker.workflow import recheck
from tracker.workflow import steps as ops
from tracker.cases.register import get_case_for
from tracker.errors import DomainError, NotFound
from tracker.oversight.event_text import sentence
from tracker.packaging import vocabulary
from tracker.workflow.rules import Rules
from webui.db import abort_keeping, db, perform, runtime
from webui.forms.workflow import (AttachUploadForm, ClockForm, EmptyForm, EvidenceChoiceForm, FactsForm, HoldForm, NoteForm,
                                  RungForm, StepStateForm, first_error)
from webui.labels import CATEGORY_LABELS, RULES_KEY
from webui.timefmt import format_input

bp = Blueprint("workflow", __name__)


STEP_STATES = {code: _l(msgid) for code, msgid in vocabulary.STEP_STATES.items()}
DEADLINE_STATES = {code: _l(msgid) for code, msgid in vocabulary.DEADLINE_STATES.items()}
OUTCOMES = {
    "removed": _l("Removed"), "restricted": _l("Restricted"), "refused": _l("Refused"), "no_answer": _l("No answer"),
    "partly_removed": _l("Partly removed"), "declined": _l("The employee does not want a police report"),
}
ACTORS = {
    "employee": _l("Employee"), "leader": _l("Leader"), "amr": _l("Work-environment representative"),
    "hr": _l("HR"), "leader+employee": _l("Leader and employee"),
}
PRECONDITIONS = {
    "author_known": _l("the author is known"),
    "police_report_declined": _l("the employee does not want a police report"),
    "private_information_disclosed": _l("private information was published"),
    "not_defamatory": _l("the content is not defamatory"),
    "previous_rung_failed": _l("the previous rung failed or did not apply"),
    "serious_case": _l("the case is serious enough for the courts"),
}
CLOCKS = {
    "episode": _l("The episode (when it was posted or happened)"),
    "case_opened": _l("The case was opened in Værn"),
    "absence_start": _l("First day of absence"),
    "knowledge_of_author": _l("When the employee knew enough about the post and its author"),
    "injunction_granted": _l("Injunction granted"),
    "request_sent": _l("Erasure request reached the controller"),
    "platform_decision": _l("The platform's decision received"),
    "notice_sent": _l("The notice to the platform was sent"),
    "dispute_filed": _l("The dispute reached the dispute settlement body"),
    "judgment_final": _l("Judgment became final"),
    "investigation_discontinued": _l("The police dropped the investigation"),
    "previous_med_evaluation": _l("Previous MED evaluation"),
}
FACTS = {
    "author_known": _l("Is the author (the citizen behind the post) known?"),
    "private_information_disclosed": _l("Was private information published (address, race, political views, "
                                        "private photos)?"),
    "defamatory": _l("Is the content defamatory (injurious allegations)?"),
}
WHY = {
    "start": _l("Suggested first rung"),
    "failed": _l("Suggested next rung: the previous one failed or was skipped"),
    "waited": _l("Suggested next rung: no removal after the waiting time"),
}
#: the audit chain's actions as the timeline says them
ACTIONS = {action: _l(msgid) for action, msgid in vocabulary.AUDIT_ACTIONS.items()}
MESSAGES = {
    "bad_category": _l("Choose one of the categories."),
    "close_note_empty": _l("Write why the case is closed."),
    "reopen_note_empty": _l("Write why the case is reopened."),
    "already_closed": _l("The case is already closed."),
    "not_closed": _l("The case is open."),
    "hold_reason_empty": _l("Write why the case is held, for example the court case."),
    "already_held": _l("The case is held already."),
    "not_held": _l("The case is not held."),
    "case_erased": _l("The case's content was erased under the retention rules; there is nothing left to hold."),
    "reason_missing": _l("Give a reason when a step is skipped or not applicable."),
    "note_missing": _l("Write the note about the employee's decision."),
    "done_at_future": _l("The time lies in the future."),
    "sent_at_future": _l("The time lies in the future."),
    "at_future": _l("The time lies in the future."),
    "done_at_too_old": _l("The time is too far back. Check the year."),
    "sent_at_too_old": _l("The time is too far back. Check the year."),
    "at_too_old": _l("The time is too far back. Check the year."),
    "sent_at_missing": _l("Give the time the request was sent before recording an outcome."),
    "receipt_at_future": _l("The time lies in the future."), "decided_at_future": _l("The time lies in the future."),
    "receipt_at_before_sent": _l("Receipt and decision come after the request was sent. Check the times."),
    "decided_at_before_sent": _l("Receipt and decision come after the request was sent. Check the times."),
    "outcome_missing": _l("Choose the decision (removed, restricted, refused, partly removed) for the decision "
                          "time."),
    "text_too_long": _l("The text is too long."),
    "bad_time": _l("The time could not be read. Write the date and the time, e.g. 26.11.2026 14.05."),
    "no_captured_url": _l("The case has no captured address to check again."),
    "not_verified": _l("That capture does not confirm a removal on this case."),
    "file_missing": _l("Choose a file to attach."),
    "empty": _l("The attached file is empty."),
    "too_large": _l("The file is larger than Værn accepts."),
    "unsupported_type": _l("Værn cannot attach this kind of file. Attach a picture (PNG, JPEG, WebP, HEIC), "
                           "a PDF or an e-mail saved as .eml."),
    "unknown_evidence": _l("Choose evidence of this case."),
}
#: a re-check's verdict as the case page says it (None: the re-capture is not finished yet)
VERDICTS = {
    None: _l("waiting for the result"),
    recheck.STILL_ONLINE: _l("still online"), recheck.CHANGED: _l("changed"),
    recheck.REMOVED_PENDING: _l("looks removed (awaiting confirmation)"),
    recheck.REMOVED: _l("removed — confirmed"), recheck.UNREACHABLE: _l("could not be reached"),
    recheck.UNCERTAIN: _l("uncertain — the leader decides"),
}
RECHECKS_SHOWN = 10
#: a step attachment's download name ends in the extension of its sniffed type, never the uploader's
EXTENSIONS = {k.media_type: k.ext for k in (PNG, JPEG, WEBP, HEIC, PDF, EML)} | {"application/json": "json"}  # TDB match


def rules() -> Rules:
    return current_app.extensions[RULES_KEY]


# -- template helpers -----------------------------------------------------------------------------
def countdown(remaining: timedelta) -> str:
    """"om 2 dage 4 timer" / "overskredet for 3 timer siden": the two largest units."""
    seconds = abs(int(remaining.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60

    def unit(n: int, one: str, many: str) -> str:
        return (one if n == 1 else many) % {"num": n}

    parts_day = unit(days, _("%(num)d day"), _("%(num)d days"))
    parts_hour = unit(hours, _("%(num)d hour"), _("%(num)d hours"))
    parts_min = unit(minutes, _("%(num)d minute"), _("%(num)d minutes"))
    if days >= 14:
        span = parts_day
    elif days:
        span = parts_day + (" " + parts_hour if hours else "")
    elif hours:
        span = parts_hour + (" " + parts_min if minutes else "")
    else:
        span = parts_min
    if remaining.total_seconds() < 0:
        return _("overdue by %(span)s", span=span)
    return _("in %(span)s", span=span)


def label(item) -> str:
    """A rule's or step's label in the page's language."""
    return item.label_da if str(get_locale()) == "da" else item.label_en


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.filters["countdown"] = countdown
    app.jinja_env.filters["localinput"] = format_input
    app.jinja_env.globals.update(
        rule_label=label, STEP_STATES=STEP_STATES, DEADLINE_STATES=DEADLINE_STATES, OUTCOMES=OUTCOMES,
        ACTORS=ACTORS, PRECONDITIONS=PRECONDITIONS, CLOCK_LABELS=CLOCKS, FACT_LABELS=FACTS, WHY=WHY,
        CATEGORY_LABELS=CATEGORY_LABELS,
        VERDICTS=VERDICTS)


def action_label(action: str) -> str:
    return str(ACTIONS.get(action, action))


def recheck_page_context(session, case: Case, user: User) -> dict:
    from webui.rechecks import page_context as context  # reason: cycle — webui.rechecks uses this module's run_on_case

    return context(session, case, user)


# -- what the case page needs -------------------------------------------------------------------
def page_context(case: Case, user: User, now: datetime | None = None) -> dict:
    """Checklist, ladder, deadlines, suggestion, facts and timeline for the case page."""
    now = now or utcnow()
    session, r = db(), rules()
    rows, clocks = ops.step_rows(session, case), ops.clock_rows(session, case)
    facts = ops.case_facts(case, rows)
    deadlines = ops.case_deadlines(case, r, rows, clocks, now)
    shown = sorted(deadlines, key=lambda d: (0, *ops.urgency_key(d, case)[:2]) if d.pending
                   else ((1, 0.0, 0.0) if d.state == "unknown_start" else (2, 0.0, 0.0)))
    people_ids = {row.updated_by_id for row in rows.values()} | {c.set_by_id for c in clocks.values()}
    events = list(session.execute(select(AuditEvent).where(AuditEvent.case_id == case.id)
                                  .order_by(AuditEvent.id)).scalars())
    people_ids |= {e.actor_id for e in events}
    people_ids.discard(None)
    people = ({u.id: u for u in session.execute(select(User).where(User.id.in_(people_ids))).scalars()}
              if people_ids else {})
    names = history.names_for(session, events, rules=r, lang=str(get_locale()))
    manage = ops.can_manage_case(user, case)
    rechecks = list(session.execute(select(Recheck).where(Recheck.case_id == case.id)
                                    .order_by(Recheck.id.desc()).limit(RECHECKS_SHOWN)).scalars())
    has_url = bool(recheck.baselines_of(session, case))
    verified = recheck.verified_removal(session, case) if has_url else None
    return dict(
        rules=r, rows=rows, clocks=clocks, facts=facts, now=now, people=people,
        deadlines=shown, deadline_of={d.rule.id: d for d in deadlines},
        suggestion=ops.suggest_next_rung(case, r, rows, now),
        can_manage=manage, can_change={s.id: ops.can_change_step(user, case, s) for s in r.steps},
        applies={s.id: ops.applies(s, case, rows) for s in r.steps},
        timeline=[(e, people.get(e.actor_id), sentence(e, names)) for e in events if history.in_timeline(e.action)],
        settable_clocks=ops.SETTABLE_CLOCKS, rung_outcomes=ops.RUNG_OUTCOMES, police_step=ops.POLICE_REPORT,
        step_states=[s.value for s in StepState],
        rechecks=rechecks, has_captured_url=has_url, verified_evidence=verified,
        removal_step=ops.removal_rung(r, rows) if verified else None,
        can_recheck=has_url and user.role in recheck.MAY_REQUEST,
        can_mark_removed=user.role is Role.leader and manage,
        tdb_lookup_on=bool(runtime().settings.dsa_tdb_token),
        evidence_by_id={e.id: e for e in case.evidence},
        **recheck_page_context(session, case, user),
    )


# -- the forms ------------------------------------------------------------------------------------
def _case_or_404(ref: str) -> Case:
    try:
        return get_case_for(db(), ref, current_user.user)
    except NotFound:
        abort(404)


#: session key: the place on the case page (an element id) where the flashed outcome of a form is shown
FLASH_AT = "flash_at"


def say_at(anchor: str, text: str, category: str) -> None:
    """Flash ``text`` to be shown at ``anchor`` on the case page, where the redirect lands and the person is, not
    at the top of a long page (webui.cases.detail; at the top if that place is not on the page)."""
    flash(text, category)
    session[FLASH_AT] = anchor


def run_on_case(ref: str, anchor: str, operation, done: str | None = None, *, form: type[FlaskForm] | None = None,
                messages: dict | None = None, forbidden: str | None = None) -> object:
    """Read the form, run one operation in a savepoint, redirect back; errors said in the page's language.

    ``operation(session, case, form)`` (``operation(session, case)`` without a ``form`` class) is a tracker
    call (it checks the permission and audits); a form that cannot be read or a DomainError leaves nothing
    written and is flashed. ``messages`` maps the
    operation's DomainError codes to what the person reads; ``forbidden`` is the 403 page's text for
    someone who may read the case but not make this change. The request commits (webui.db).
    """
    case = _case_or_404(ref)
    back = redirect(url_for("cases.detail", ref=case.ref, _anchor=anchor))
    args = ()
    if form is not None:
        posted = form()
        if not posted.validate():
            say_at(anchor, first_error(posted), "error")
            return back
        args = (posted,)
    try:
        outcome = perform(operation, case, *args)
    except NotFound:
        abort(404)
    if outcome.error is not None:
        if outcome.error.code == "not_allowed":
            return render_template("errors/error.html", code=403, title=_("You cannot change this case"),
                                   text=forbidden or _("You can read this case, but only the unit's leader (and for "
                                                       "some steps the work-environment representative or HR) can "
                                                       "change it.")), 403
        text = (messages or MESSAGES).get(outcome.error.code, _("The change could not be saved. Check the form."))
        say_at(anchor, str(text), "error")
        return back
    say_at(anchor, done or _("Saved."), "ok")
    return back


@bp.post("/cases/<ref>/steps/<step_id>/state")
@login_required
def step_state(ref: str, step_id: str):
    _step_or_404(step_id)

    def op(session, case, form: StepStateForm):
        ops.set_state(session, case, step_id, form.state.data or "", current_user.user, reason=form.reason.data,
                      note=form.note.data, done_at=form.done_at.data, rules=rules())
    return run_on_case(ref, f"step-{step_id}", op, form=StepStateForm)


@bp.post("/cases/<ref>/steps/<step_id>/rung")
@login_required
def rung(ref: str, step_id: str):
    _rung_or_404(step_id)

    def op(session, case, form: RungForm):
        ops.record_rung(session, case, step_id, current_user.user, form.sent_at.data, form.channel.data,
                        form.platform_ref.data, form.outcome.data, form.statement_of_reasons.data, rules=rules(),
                        **form.times())
    return run_on_case(ref, f"step-{step_id}", op, form=RungForm)


@bp.post("/cases/<ref>/police-report/decline")
@login_required
def decline_police_report(ref: str):
    def op(session, case, form: NoteForm):
        ops.decline_police_report(session, case, current_user.user, form.note.data, rules=rules())
    return run_on_case(ref, f"step-{ops.POLICE_REPORT}", op, form=NoteForm)


@bp.post("/cases/<ref>/clocks")
@login_required
def clock(ref: str):
    def op(session, case, form: ClockForm):
        ops.set_clock(session, case, form.name.data, form.at.data, current_user.user, form.note.data)
    return run_on_case(ref, "deadlines", op, form=ClockForm)


@bp.post("/cases/<ref>/facts")
@login_required
def facts(ref: str):
    def op(session, case, form: FactsForm):
        ops.set_facts(session, case, current_user.user, **form.facts())
        if form.category_sent():
            lifecycle.set_category(session, case, current_user.user, form.category.data)
    return run_on_case(ref, "facts", op, form=FactsForm)


@bp.post("/cases/<ref>/close")
@login_required
def close(ref: str):
    def op(session, case, form: NoteForm):
        lifecycle.close_case(session, case, current_user.user, form.note.data)
    return run_on_case(ref, "facts", op, form=NoteForm, done=_("The case is closed. Everything in it is kept."))


@bp.post("/cases/<ref>/hold")
@login_required
def hold(ref: str):
    def op(session, case, form: HoldForm):
        legal_hold.hold_case(session, case, current_user.user, form.reason.data)
    return run_on_case(ref, "hold", op, form=HoldForm, forbidden=_HOLD_FORBIDDEN,
                       done=_("The case is under legal hold. Nothing in it is erased until the hold is released."))


@bp.post("/cases/<ref>/release")
@login_required
def release(ref: str):
    def op(session, case, form: EmptyForm):
        legal_hold.release_case(session, case, current_user.user)
    return run_on_case(ref, "hold", op, form=EmptyForm, forbidden=_HOLD_FORBIDDEN,
                       done=_("The legal hold is released. The retention rules apply to the case again."))


_HOLD_FORBIDDEN = _l("You can read this case, but only HR can place or release a legal hold.")


@bp.post("/cases/<ref>/reopen")
@login_required
def reopen(ref: str):
    def op(session, case, form: NoteForm):
        lifecycle.reopen_case(session, case, current_user.user, form.note.data)
    return run_on_case(ref, "facts", op, form=NoteForm, done=_("The case is open again."))


def _rung_or_404(step_id: str) -> None:
    if step_id not in {s.id for s in rules().ladder}:
        abort(404)


def _step_or_404(step_id: str) -> None:
    try:
        rules().step(step_id)
    except DomainError:
        abort(404)


@bp.post("/cases/<ref>/recheck")
@login_required
def request_recheck(ref: str):
    def op(session, case, _form):
        recheck.request_recheck(session, case, current_user.user)
    return run_on_case(ref, "rechecks", op, form=EmptyForm,
                       done=_("The re-check has started. The result appears here when the new capture is done."))


@bp.post("/cases/<ref>/steps/<step_id>/removed-verified")
@login_required
def removed_verified(ref: str, step_id: str):
    _rung_or_404(step_id)

    def op(session, case, form: EvidenceChoiceForm):
        ops.record_verified_removal(session, case, step_id, form.evidence_id.data, current_user.user, rules=rules())
    return run_on_case(ref, f"step-{step_id}", op, form=EvidenceChoiceForm)


@bp.post("/cases/<ref>/steps/<step_id>/attachments/evidence")
@login_required
def attach_evidence(ref: str, step_id: str):
    _step_or_404(step_id)

    def op(session, case, form: EvidenceChoiceForm):
        ops.attach_evidence(session, case, step_id, form.evidence_id.data, current_user.user, rules=rules())
    return run_on_case(ref, f"step-{step_id}", op, form=EvidenceChoiceForm)


@bp.post("/cases/<ref>/steps/<step_id>/attachments/upload")
@login_required
def attach_upload(ref: str, step_id: str):
    _step_or_404(step_id)

    def op(session, case, form: AttachUploadForm):
        file = form.file.data
        ops.attach_upload(session, runtime().blobs, case, step_id, current_user.user, file.read(), file.filename,
                          max_bytes=runtime().settings.upload_max_bytes, rules=rules())
    return run_on_case(ref, f"step-{step_id}", op, form=AttachUploadForm)


@bp.get("/cases/<ref>/attachments/<int:attachment_id>")
@login_required
def attachment(ref: str, attachment_id: int):
    """An uploaded step attachment: pictures inline, everything else a download, never live content."""
    from webui.cases import INLINE_TYPES  # reason: cycle — webui.cases imports this module at module level

    case = _case_or_404(ref)
    try:
        opened = files.open_step_attachment(db(), runtime().blobs, current_user.user, case, attachment_id,
                                            inline_types=INLINE_TYPES)
    except NotFound:
        abort(404)
    except files.BrokenFile:
        abort_keeping(500)  # the integrity error is recorded
    att, data, inline = opened.attachment, opened.data, opened.inline
    stem = secure_filename((att.filename or "").rsplit(".", 1)[0]) or "bilag"
    name = f"{case.ref}-{att.id}-{stem}.{EXTENSIONS.get(att.media_type, 'bin')}"
    resp = Response(data, mimetype=att.media_type if inline else "application/octet-stream")
    resp.headers["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{name}"'
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Evidence-SHA256"] = att.sha256
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
