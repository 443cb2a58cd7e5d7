"""The leader's Transparency Database lookup on the platform-notice rung (tracker/workflow/tdb.py): one
POST on the workflow blueprint, the answer said plainly (match attached, no match, or failed)."""
from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from tracker.adapters import tdb as tdb_http
from tracker.errors import NotFound
from tracker.workflow import tdb
from tracker.workflow.steps import PLATFORM_NOTICE
from webui.db import perform, runtime
from webui.forms.workflow import TdbLookupForm
from webui.workflow import _case_or_404, bp, rules, say_at

MESSAGES = {
    "tdb_off": _l("The Transparency Database lookup is not set up here. Search by hand (see the hint)."),
    "puid_missing": _l("Enter the content's ID at the platform (PUID)."),
    "puid_too_long": _l("The content ID is too long (at most 500 characters)."),
}


@bp.post("/cases/<ref>/steps/platform_notice/tdb-lookup")
@login_required
def tdb_lookup(ref: str):
    case = _case_or_404(ref)
    here = f"step-{PLATFORM_NOTICE}"
    back = redirect(url_for("cases.detail", ref=case.ref, _anchor=here))
    form = TdbLookupForm()
    if not form.validate():
        say_at(here, _("The form had expired. Try again."), "error")
        return back
    rt = runtime()

    def op(session, case):
        return tdb.lookup_statement(session, rt.blobs, case, current_user.user, form.puid.data,
                                    ask=tdb_http.asker(rt.settings), base_url=rt.settings.dsa_tdb_url,
                                    rules=rules())
    try:
        outcome = perform(op, case)
    except NotFound:
        abort(404)
    if outcome.error is not None:
        if outcome.error.code == "not_allowed":
            return render_template("errors/error.html", code=403, title=_("You cannot change this case"),
                                   text=_("Only those who manage the case can look up the statement of "
                                          "reasons.")), 403
        say_at(here, str(MESSAGES.get(outcome.error.code, _("The lookup could not be made."))), "error")
        return back
    answer = outcome.value.answer
    if answer.result == "match":
        say_at(here, _("The Transparency Database has a statement of reasons for this content (%(uuid)s). It is "
                "attached to the step.", uuid=answer.statement.get("uuid")), "ok")
    elif answer.result == "no_match":
        say_at(here, _("The Transparency Database has no statement of reasons for this content ID. Nothing was "
                "attached. The platform may not have published it yet."), "ok")
    else:
        say_at(here, _("The lookup failed: %(detail)s. Nothing was attached; no match was established. Try again "
                "later or search by hand.", detail=_why(answer)), "error")
    return back


def _why(answer: tdb.Answer) -> str:
    """Why a lookup failed, in the page's language (the audit keeps the technical detail)."""
    if answer.http_status is None:
        return _("no answer in time, or no connection")
    if answer.http_status in (401, 403):
        return _("the database refused the token (HTTP %(status)s)", status=answer.http_status)
    if answer.http_status in (200, 302):
        return _("the answer could not be read")
    return _("the database answered with an error (HTTP %(status)s)", status=answer.http_status)
