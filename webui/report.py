"""An employee reports harassment: the URL of the post (and/or an upload), when, what happened."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from tracker.cases.register import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH, Report, open_case
from tracker.errors import DomainError
from tracker.accounts.permissions import can_report
from webui.db import db, runtime
from webui.timefmt import parse_local
from webui.wacz_upload import wacz_problem

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


class ReportForm(FlaskForm):
    url = StringField(_l("Address (URL) of the post"), validators=[Optional(), Length(max=MAX_URL_LENGTH + 1000)])
    episode_at = StringField(_l("When was it posted or when did it happen?"), validators=[Optional(), Length(max=40)])
    description = TextAreaField(_l("What happened? (a few lines)"),
                                validators=[Optional(), Length(max=MAX_DESCRIPTION_LENGTH + 1000)])
    upload = FileField(_l("Or attach a screenshot, photo of the screen, PDF or e-mail (.eml)"))


def _supported_upload(data: bytes) -> bool:
    """Quick type check from the bytes so the person hears at once; the job does the full check."""
    from capture.errors import CaptureRefused
    from capture.upload import sniff

    try:
        sniff(data, wacz=True)
    except CaptureRefused:
        return False
    return True


@bp.route("/report", methods=["GET", "POST"])
@login_required
def new():
    user = current_user.user
    if not can_report(user):
        abort(404)
    form = ReportForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        episode_at = None
        try:
            episode_at = parse_local(form.episode_at.data)
        except ValueError:
            errors["episode_at"] = _("The time could not be read. Write the date and the time, e.g. 26.11.2026 14.05.")
        upload_sha = upload_name = None
        file = form.upload.data
        if file and getattr(file, "filename", ""):
            data = file.read()
            if not data:
                errors["upload"] = _("The attached file is empty.")
            elif len(data) > runtime().settings.upload_max_bytes:
                errors["upload"] = _("The file is larger than Værn accepts.")
            elif problem := wacz_problem(data):  # a changed WACZ is refused here, naming the file
                errors["upload"] = problem
            elif not _supported_upload(data):
                errors["upload"] = _("Værn cannot read this kind of file. Attach a picture (PNG, JPEG, WebP, HEIC), a PDF or an e-mail saved as .eml.")
            else:
                upload_sha = runtime().blobs.put(data)  # durable before any row points at it
                upload_name = file.filename[:255]
        if not errors:
            try:
                session = db()
                case = open_case(session, user, Report(
                    url=form.url.data, episode_at=episode_at, description=form.description.data or "",
                    upload_sha256=upload_sha, upload_filename=upload_name), directory=runtime().platforms)
                session.commit()
                return redirect(url_for("cases.detail", ref=case.ref))
            except DomainError as exc:
                db().rollback()
                errors[exc.field or "url"] = str(MESSAGES.get(exc.code, exc.message))
    elif form.errors:
        for name, msgs in form.errors.items():
            errors[name] = _("The text is too long.") if msgs else ""
    return render_template("report/new.html", form=form, errors=errors), (400 if errors else 200)
