"""Capture profiles on the admin pages (issue 14): list, import a Playwright storage state, remove.

Routes live on the admin blueprint (registered by importing this module from webui/admin.py). Only
administrators reach them (others get 404; ``tracker.accounts.profiles`` checks it again). The uploaded
state goes straight to the tracker, which encrypts it; no page ever shows it. Creating a profile by logging
in through a remote browser: webui/remote_profiles.py.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from storage.models import Role
from tracker.accounts import profiles as ops
from tracker.errors import NotFound
from webui.admin import bp
from webui.db import db, perform, runtime
from webui.forms.admin import ActionForm, first_error
from webui.roles import me, role_required

MESSAGES = {
    "profile_name": _l("Enter a name of 1 to 80 characters: small letters a–z, digits, '.', '_' and '-'."),
    "profile_hosts": _l("Enter one or more hosts, separated by commas, each as host or host:port "
                        "(e.g. facebook.com, m.facebook.com)."),
    "profile_account": _l("Describe the account in at most 200 characters."),
    "profile_state": _l("The file is not a Playwright storage state (JSON with a list of cookies, at most 1 MiB)."),
}
STATUS = {ops.ACTIVE: _l("In use"), ops.LOGGED_OUT: _l("Logged out")}


class ProfileImportForm(FlaskForm):
    name = StringField(validators=[DataRequired(MESSAGES["profile_name"]),
                                   Length(max=80, message=MESSAGES["profile_name"])])
    hosts = StringField(validators=[DataRequired(MESSAGES["profile_hosts"]),
                                    Length(max=2000, message=MESSAGES["profile_hosts"])])
    account = StringField(validators=[Optional(), Length(max=200, message=MESSAGES["profile_account"])])
    storage_state = FileField(validators=[FileRequired(MESSAGES["profile_state"])])


def _page(form: ProfileImportForm, error: str | None = None, field: str | None = None):
    return render_template("admin/profiles.html", profiles=ops.list_profiles(db(), me()), form=form, error=error,
                           field=field, statuses=STATUS), (400 if error else 200)


@bp.route("/admin/profiles", methods=["GET", "POST"])
@role_required(Role.admin)
def profiles():
    form = ProfileImportForm()
    if not form.is_submitted():
        return _page(form)
    if not form.validate():
        field, message = first_error(form)
        return _page(form, message, field)
    data = form.storage_state.data.read(ops.MAX_STATE_BYTES + 1)
    done = perform(ops.import_profile, me(), runtime().settings, form.name.data, form.hosts.data, data,
                   form.account.data or "")
    if not done:
        return _page(form, str(MESSAGES.get(done.error.code, done.error.message)), done.error.field)
    row, replaced = done.value
    flash(_("The profile %(name)s is replaced and in use again.", name=row.name) if replaced
          else _("The profile %(name)s is imported.", name=row.name), "ok")
    return redirect(url_for("admin.profiles"))


def _profile_or_404(name: str):
    try:
        return ops.get_profile(db(), me(), name)
    except NotFound:
        abort(404)


@bp.route("/admin/profiles/<name>/remove", methods=["GET", "POST"])
@role_required(Role.admin)
def profile_remove(name: str):
    row = _profile_or_404(name)
    form = ActionForm()
    if form.is_submitted():
        if not form.validate():
            abort(400)
        done = perform(ops.remove_profile, me(), row.name)
        if not done:
            abort(404)
        flash(_("The profile %(name)s is removed; its login is deleted.", name=name), "ok")
        return redirect(url_for("admin.profiles"))
    return render_template("admin/profile_remove.html", profile=row)


@bp.app_template_global()
def profiles_logged_out(evidence_id: int) -> list:
    """The capture profiles this capture found logged out (the case page says so under the capture)."""
    return ops.logged_out_by_capture(db(), evidence_id)
