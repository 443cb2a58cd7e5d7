"""The data subject's rights on the web (issue 16.4): erasure on request with a preview (HR and the administrator),
and an offender's access request with a redacted handout (HR: it shows case text, which the administrator does
not read). The rules are tracker.privacy.subject_erasure and tracker.privacy.offender_access."""
from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from capture.pdf import PdfRenderFailed
from storage.models import Role
from storage.types import utcnow
from tracker.errors import DomainError
from tracker.privacy import offender_access, subject_erasure
from webui.db import db, perform, runtime
from webui.forms.privacy import ErasureForm, HandoutForm
from webui.roles import me, role_required

bp = Blueprint("privacy", __name__)

MESSAGES = {
    "no_such_user": _l("No user has that e-mail address."),
    "no_such_offender": _l("No offender record has that number."),
    "who_missing": _l("Give the person's e-mail address or the offender record's number (one of them)."),
    "erasure_reason_empty": _l("Write the request: when it came and how."),
    "too_long": _l("The text is too long."),
    "erase_self": _l("Another HR user or an administrator must carry out your own request."),
    "not_allowed": _l("You may not do this."),
    "query_short": _l("Write at least 3 characters of the name or handle."),
}
KIND_TEXT = {"case": _l("Case"), "account": _l("Account"), "offender": _l("Offender record"),
             "audit_events": _l("Audit log events"), "journal": _l("The municipality's journal (ESDH)")}
#: what the preview says will happen to each thing (nothing has happened yet)
ACTION_TEXT = {"erase": _l("Will be erased"), "keep": _l("Will be kept"), "already_erased": _l("Already erased"),
               "pseudonymise": _l("Will be closed; name and e-mail replaced by a pseudonym"),
               "close_account": _l("Will be closed (no login, tokens revoked); name and e-mail kept"),
               "note": _l("Not in Værn: check it there")}
#: what happened, after the erasure
DONE_TEXT = {"erase": _l("Erased"), "keep": _l("Kept"), "already_erased": _l("Already erased"),
             "pseudonymise": _l("Closed; name and e-mail replaced by a pseudonym"),
             "close_account": _l("Closed (no login, tokens revoked); name and e-mail kept"),
             "note": _l("Not in Værn: check it there")}


def count_text(kind: str, n: int) -> str:
    """``n`` things of ``kind`` in a plan item's counts, with the noun in the right number ("1 evidence item")."""
    if kind == "evidence":
        return ngettext("%(num)d piece of evidence", "%(num)d pieces of evidence", n)
    if kind == "letters":
        return ngettext("%(num)d letter", "%(num)d letters", n)
    words = {"done by the person": _("done by the person"), "about the account": _("about the account")}
    return f"{n} {words.get(kind, kind)}"


def _message(error: DomainError) -> str:
    return str(MESSAGES.get(error.code, error.message))


def _subject(session, form: ErasureForm):
    if bool(form.email.data) == bool(form.offender.data):
        raise DomainError("who_missing", "give an e-mail or an offender number", "email")
    if form.email.data:
        return subject_erasure.user_by_email(session, form.email.data)
    if not form.offender.data.isdigit() or len(form.offender.data) > 12:
        raise DomainError("no_such_offender", "no offender record has that number", "offender")
    return subject_erasure.offender_by_id(session, int(form.offender.data))


def previewed(form: ErasureForm) -> str:
    """What a preview was of: the erase button carries it, so only what was previewed is erased."""
    return f"{form.email.data.lower()}|{form.offender.data}|{int(bool(form.within.data))}"


def _preview(session, actor, form: ErasureForm):
    who = _subject(session, form)
    planner = subject_erasure.plan_for_offender if form.offender.data else subject_erasure.plan_for_user
    rt = runtime()
    return planner(session, who, rt.retention, rt.erasure_exceptions, utcnow(), erase_within_retention=form.within.data,
                   actor=actor)


def _erase(session, actor, form: ErasureForm):
    rt = runtime()
    return subject_erasure.erase(rt, session, _subject(session, form), actor, form.reason.data,
                                 rt.retention, rt.erasure_exceptions, utcnow(),
                                 erase_within_retention=form.within.data).plan


@bp.route("/hr/privacy/erase", methods=["GET", "POST"], endpoint="erase")
@role_required(Role.hr, Role.admin)
def erase_page():
    form = ErasureForm()
    plan, done, error, field = None, False, None, None
    if form.is_submitted():
        if not form.validate():
            error = _("The form has expired. Please try again.")
        else:
            # an erase after the fields were changed since the preview shows the new preview instead
            erase_now = request.form.get("action") == "erase" and request.form.get("previewed") == previewed(form)
            outcome = perform(_erase if erase_now else _preview, me(), form)
            if outcome:
                plan, done = outcome.value, erase_now
            else:
                error, field = _message(outcome.error), outcome.error.field
    return render_template("privacy/erase.html", form=form, plan=plan, done=done, error=error, field=field,
                           kinds=KIND_TEXT, actions=DONE_TEXT if done else ACTION_TEXT, count_text=count_text,
                           lang=str(get_locale()), previewed=previewed(form),
                           may_search=me().role is Role.hr), (400 if error else 200)


@bp.get("/hr/privacy/access", endpoint="access")
@role_required(Role.hr)
def access_page():
    q = (request.args.get("q") or "").strip()[:200]
    result, error = None, None
    if q:
        outcome = perform(lambda session: offender_access.search(runtime(), session, me(), q))
        if outcome:
            result = outcome.value
        else:
            error = _message(outcome.error)
    return render_template("privacy/access.html", q=q, result=result, error=error, form=HandoutForm(q=q)), (
        400 if error else 200)


@bp.post("/hr/privacy/access/handout", endpoint="handout")
@role_required(Role.hr)
def handout():
    form = HandoutForm()
    if not form.validate():
        abort(400)
    outcome = perform(lambda session: offender_access.search(runtime(), session, me(), form.q.data, handout=True))
    if not outcome:
        flash(_message(outcome.error), "error")
        return redirect(url_for("privacy.access"))
    try:
        data = offender_access.handout_zip(runtime(), outcome.value)
    except PdfRenderFailed:
        flash(_("The PDF could not be printed. Try again, or make the handout with `vaern subject offender-search`."),
              "error")
        return redirect(url_for("privacy.access", q=form.q.data))
    db().flush()
    return send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                     download_name=f"vaern-indsigt-udkast-{utcnow():%Y%m%d-%H%M}.zip")
