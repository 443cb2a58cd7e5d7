"""An employee reports harassment: the URL of the post (and/or files), or an episode without a URL (a phone
call, a letter, a threat in person …) with their statement; when, what happened.

The form is phone-first (report/new.html): a camera button for a photo of another screen, the episode time
filled in with now and quick choices. A link or file shared from the phone (webui.phone) arrives here as a
draft in the session; the shared file's SHA-256 is taken from the session only, never from the form.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from storage.types import utcnow
from tracker.cases.register import Report, open_case
from tracker.cases.statement import Statement
from tracker.accounts.permissions import can_report
from webui.db import perform, runtime
from webui.forms.case import ReportForm
from webui.phone import forget_share, pending_share
from webui.timefmt import format_input

bp = Blueprint("report", __name__)

#: what the domain's error codes mean to the person filling in the form
MESSAGES = {
    "url_missing": _l("Paste the address (URL) of the post, or attach a file."),
    "url_too_long": _l("The address is too long (at most 2048 characters)."),
    "url_scheme": _l("The address must start with http:// or https://."),
    "url_malformed": _l("That does not look like a web address. Copy it from the browser's address bar."),
    "invalid_url": _l("The address cannot be read. Check it for odd characters, brackets or a wrong colon, "
                      "or copy it again from the browser's address bar."),
    "description_too_long": _l("The description is too long (at most 5000 characters)."),
    "episode_future": _l("The time lies in the future. When was it posted or when did it happen?"),
    "episode_too_old": _l("The time is too far back. Check the year."),
    "episode_naive": _l("The time could not be read."),
    "bad_kind": _l("Choose what happened."),
    "statement_missing": _l("Write what was said or done, in your own words."),
}


@bp.route("/report", methods=["GET", "POST"])
@login_required
def new():
    user = current_user.user
    if not can_report(user):
        abort(404)
    shared = pending_share() if (request.method == "POST" or request.args.get("delt")) else None
    form = ReportForm()
    errors: dict[str, str] = {}
    if not form.is_submitted():
        form.episode_at.raw_data = [format_input(utcnow())]  # now, in Danish time; "i går" and the like are a tap
        if shared:
            form.url.data = shared.get("url") or ""
            form.description.data = shared.get("description") or ""
    elif form.validate():
        outcome = perform(open_case, user, _report(form, shared), directory=runtime().platforms,
                          blobs=runtime().blobs)
        if outcome:
            forget_share()
            flash(_("Thank you. Your report has been received as case %(ref)s.", ref=outcome.value.ref), "ok")
            return redirect(url_for("cases.detail", ref=outcome.value.ref))
        errors[outcome.error.field or "url"] = str(MESSAGES.get(outcome.error.code, outcome.error.message))
    else:
        errors = {name: str(msgs[0]) for name, msgs in form.errors.items() if msgs}
    return render_template("report/new.html", form=form, errors=errors, shared=shared), (400 if errors else 200)


def _report(form: ReportForm, shared: dict | None) -> Report:
    """The form's report; files are durable in the blob store before any row points at them."""
    files: list[tuple[str, str | None]] = []
    for field, data in ((form.photo, form.photo_bytes), (form.upload, form.upload_bytes)):
        if data is not None:
            files.append((runtime().blobs.put(data), field.data.filename[:255]))
    if shared and shared.get("file_sha256") and form.shared_file.data:
        files.append((shared["file_sha256"], shared.get("file_name")))
    kind = form.kind.data or "url"
    statement = None
    if kind != "url" or any(f.data for f in (form.statement, form.who, form.where, form.witnesses)):
        statement = Statement(what=form.statement.data or "", who=form.who.data or "", where=form.where.data or "",
                              witnesses=form.witnesses.data or "")
    first, rest = (files[0], tuple(files[1:])) if files else ((None, None), ())
    return Report(url=form.url.data, episode_at=form.episode_at.data, description=form.description.data or "",
                  upload_sha256=first[0], upload_filename=first[1], more_uploads=rest, kind=kind,
                  statement=statement)
