"""Letters on a case: draft one from a template, edit it while unsent, mark it sent, download it as text.

Who may do what is ``tracker.workflow.letters`` (leader of the unit and HR write; AMR reads; the case's
employee reads sent letters). A case or letter you may not read is a 404; a read-only reader who
tries to write gets 403 (they can see the case, so nothing is revealed).
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from storage.models import Case, Letter, User
from tracker.workflow import letters as ops
from tracker.cases.register import get_case_for
from tracker.errors import DomainError, NotFound
from webui.db import db, perform, runtime
from webui.forms.letters import LetterForm, NewLetterForm
from webui.labels import RULES_KEY

bp = Blueprint("letters", __name__)

#: what each template drafts, for the person choosing one
TEMPLATE_NAMES = {
    "request_to_author": _l("Request to the author to remove the content"),
    "dsa_notice": _l("Notice to the platform (DSA art. 16)"),
    "datatilsynet_complaint": _l("Complaint to the Danish Data Protection Agency (summary)"),
    "declined_police_report_note": _l("Note: the employee does not want a police report (for InsuBiz)"),
    "citizen_channels_letter": _l("Letter to the citizen about the official channels"),
    "police_evidence_annex": _l("Evidence annex for the police report"),
}
#: the templates that print the criminal provisions the leader ticks
USES_PROVISIONS = {"request_to_author", "dsa_notice", "police_evidence_annex"}

#: what the domain's error codes mean to the leader
MESSAGES = {
    "letter_sent": _l("The letter is marked as sent and can no longer be changed. Draft a new letter if something must be corrected."),
    "letter_changed": _l("Someone else saved the letter while you were editing it. Your changes were not saved; reload the page and make them again."),
    "letter_unfinished": _l("The letter still contains [UDFYLD: …] placeholders. Fill them in or delete them before you mark it as sent."),
    "body_empty": _l("The letter is empty."),
    "body_too_long": _l("The letter is too long."),
    "subject_too_long": _l("The subject is too long (at most 300 characters)."),
    "unknown_letter": _l("Choose which letter to draft."),
    "unknown_provision": _l("Unknown provision."),
    "step_letter_mismatch": _l("This step does not use that letter."),
}


@bp.record_once
def _check_templates_at_start(_state) -> None:
    ops.check_templates()  # a broken template file stops start-up with one line naming it


@bp.app_template_filter("letter_name")
def letter_name(template_id: str) -> str:
    return str(TEMPLATE_NAMES.get(template_id, template_id))


def letters_context(case: Case, letters: list[Letter] | None = None) -> dict:
    """What ``cases/_letters.html`` needs: the letters the user may read, whether they may draft, the templates."""
    user = current_user.user
    return {"letters": letters if letters is not None else ops.letters_for(db(), user, case),
            "can_write": ops.can_write_letters(user, case), "templates": ops.LETTERS}


bp.add_app_template_global(letters_context, "letters_context")


def _case_or_404(ref: str) -> Case:
    try:
        return get_case_for(db(), ref, current_user.user)
    except NotFound:
        abort(404)


def _letter_or_404(case: Case, letter_id: int) -> Letter:
    try:
        return ops.get_letter_for(db(), current_user.user, case, letter_id)
    except NotFound:
        abort(404)


def _writer_or_403(case: Case) -> None:
    if not ops.can_write_letters(current_user.user, case):
        abort(403)


@bp.route("/cases/<ref>/letters/new", methods=["GET", "POST"])
@login_required
def new(ref: str):
    case = _case_or_404(ref)
    _writer_or_403(case)
    posted = request.method == "POST"
    form = NewLetterForm() if posted else NewLetterForm(formdata=request.args, meta={"csrf": False})
    template_id, step_id, ticked = form.template.data, form.step.data, form.provisions.data or []
    error = None
    if posted:
        outcome = perform(ops.create_letter, current_user.user, case, template_id, step_id=step_id,
                          provisions=ticked if template_id in USES_PROVISIONS else (),
                          rules=current_app.extensions.get(RULES_KEY), platforms=runtime().platforms,
                          local_dir=runtime().letters_dir)
        if outcome:
            return redirect(url_for("letters.edit", ref=case.ref, letter_id=outcome.value.id))
        error = _message(outcome.error)
    return render_template("letters/edit.html", case=case, letter=None, template_id=template_id, step_id=step_id,
                           ticked=set(ticked), provisions=ops.PROVISIONS, uses_provisions=USES_PROVISIONS,
                           templates=ops.LETTERS, error=error), (400 if error else 200)


def _message(exc: DomainError) -> str:
    return str(MESSAGES.get(exc.code, exc.message))


@bp.route("/cases/<ref>/letters/<int:letter_id>", methods=["GET", "POST"])
@login_required
def edit(ref: str, letter_id: int):
    case = _case_or_404(ref)
    letter = _letter_or_404(case, letter_id)
    error, status, saved = None, 200, False
    if request.method == "POST":
        _writer_or_403(case)
        form = LetterForm()
        outcome = perform(ops.update_letter, current_user.user, case, letter, subject=form.subject.data,
                          body=form.body.data, expected_sha256=form.version.data)
        if outcome:
            saved = True
        else:
            error = _message(outcome.error)
            status = 409 if outcome.error.code in ("letter_sent", "letter_changed") else 400
            letter = _letter_or_404(case, letter_id)
    else:
        ops.record_view(db(), current_user.user, case, letter)
    return _letter_page(case, letter, error=error, saved=saved), status


@bp.route("/cases/<ref>/letters/<int:letter_id>/send", methods=["POST"])
@login_required
def send(ref: str, letter_id: int):
    case = _case_or_404(ref)
    letter = _letter_or_404(case, letter_id)
    _writer_or_403(case)
    outcome = perform(ops.mark_sent, current_user.user, case, letter)
    if not outcome:
        return _letter_page(case, _letter_or_404(case, letter_id), error=_message(outcome.error)), 409
    return redirect(url_for("letters.edit", ref=case.ref, letter_id=letter.id))


@bp.route("/cases/<ref>/letters/<int:letter_id>/download.txt")
@login_required
def download(ref: str, letter_id: int):
    case = _case_or_404(ref)
    letter = _letter_or_404(case, letter_id)
    ops.record_download(db(), current_user.user, case, letter)
    resp = Response(letter.body.encode("utf-8"), mimetype="text/plain")
    resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="{case.ref}-brev-{letter.id}-{letter.template_id}.txt"'
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Letter-SHA256"] = ops.body_sha256(letter.body)
    return resp


def _letter_page(case: Case, letter: Letter, *, error: str | None = None, saved: bool = False) -> str:
    user = current_user.user
    sent_by = db().get(User, letter.sent_by_id) if letter.sent_by_id else None
    return render_template("letters/edit.html", case=case, letter=letter, sent_by=sent_by, error=error, saved=saved,
                           editable=ops.can_write_letters(user, case) and letter.sent_at is None,
                           can_write=ops.can_write_letters(user, case),
                           version=ops.body_sha256(letter.body), placeholder=ops.PLACEHOLDER)
