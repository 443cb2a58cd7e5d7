"""An employee reports harassment: the URL of the post (and/or an upload), when, what happened."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from tracker.cases.register import Report, open_case
from tracker.accounts.permissions import can_report
from webui.db import perform, runtime
from webui.forms.case import ReportForm

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
}


@bp.route("/report", methods=["GET", "POST"])
@login_required
def new():
    user = current_user.user
    if not can_report(user):
        abort(404)
    form = ReportForm()
    errors: dict[str, str] = {}
    if form.is_submitted():
        if form.validate():
            upload_sha = upload_name = None
            if form.upload_bytes is not None:
                upload_sha = runtime().blobs.put(form.upload_bytes)  # durable before any row points at it
                upload_name = form.upload.data.filename[:255]
            outcome = perform(open_case, user, Report(
                url=form.url.data, episode_at=form.episode_at.data, description=form.description.data or "",
                upload_sha256=upload_sha, upload_filename=upload_name), directory=runtime().platforms)
            if outcome:
                flash(_("Thank you. Your report has been received as case %(ref)s.", ref=outcome.value.ref), "ok")
                return redirect(url_for("cases.detail", ref=outcome.value.ref))
            errors[outcome.error.field or "url"] = str(MESSAGES.get(outcome.error.code, outcome.error.message))
        else:
            errors = {name: str(msgs[0]) for name, msgs in form.errors.items() if msgs}
    return render_template("report/new.html", form=form, errors=errors), (400 if errors else 200)
