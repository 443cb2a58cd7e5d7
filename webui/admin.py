"""Administration: users, units, rule files and the platform directory — never case content.

Only admins reach these pages (others get 404; ``tracker.accounts.admin`` checks it again). A generated
password is shown once, on the page that answers the POST, and is stored nowhere but as its argon2 hash.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from storage.models import Role, User
from tracker.accounts import admin as ops
from tracker.accounts import rule_files, tokens
from tracker.errors import DomainError, NotFound
from webui import password_text
from webui.db import db, perform, runtime
from webui.forms.admin import (MESSAGES, ActionForm, UnitForm, UserEditForm, UserFilterForm, UserNewForm,
                               first_error)
from webui.labels import PERSON_ROLE_LABELS
from webui.roles import me, role_required

bp = Blueprint("admin", __name__)


ROLES = PERSON_ROLE_LABELS
TOKEN_STATES = {"live": _l("In use"), "revoked": _l("Revoked"), "expired": _l("Expired")}
KINDS = {"rules": _l("Rules"), "platforms": _l("Platform directory"), "letter": _l("Letter template"),
         "removal_signs": _l("Removal signs for re-checks"), "retention": _l("Retention rules"),
         "erasure": _l("Exceptions to erasure (GDPR art. 17(3))"),
         "processing_record": _l("Texts of the record of processing (GDPR art. 30)")}
#: what a file is for, on its page (files whose kind says it all have none)
FILE_HINTS = {
    "erasure": _l("Why Værn keeps something when a person asks to be erased: one exception for each kind of item, "
                  "with its article and legal sources. The plan on HR's erasure page and vaern subject erase use "
                  "the version in use."),
    "processing_record": _l("The texts Værn cannot read from its settings: purposes, categories, recipients and "
                            "roles. Statements marked »Skal bekræftes af kommunen« are confirmed in a "
                            "[[confirmed]] entry (statement, text, confirmed_by; the keys are listed at the top of "
                            "the file): the record then shows the municipality's words instead of the mark."),
}


def _message(exc: DomainError) -> str:
    if exc.code in password_text.CODES:
        return password_text.for_page(exc)
    return str(MESSAGES.get(exc.code, _("The change could not be saved. Check the form.")))


def _override_dir():
    return rule_files.override_dir(runtime().settings.data_dir)


@bp.app_template_filter("role_name")
def role_name(role) -> str:
    return str(ROLES.get(Role(role), role))


# -- overview -------------------------------------------------------------------------------------
@bp.get("/admin")
@role_required(Role.admin)
def index():
    view = ops.overview(db(), me(), _override_dir())
    return render_template("admin/index.html", users=view.users, units=view.units, overridden=view.overridden)


# -- users ----------------------------------------------------------------------------------------
@bp.get("/admin/users")
@role_required(Role.admin)
def users():
    session = db()
    f = UserFilterForm().values()
    page = ops.list_users(session, unit_id=f["unit_id"], role=f["role"], active=f["active"], page=f["page"],
                          viewer=me())
    filters = {"unit": f["unit_id"] or "", "role": f["role"].value if f["role"] else "",
               "active": {True: "1", False: "0", None: "all"}[f["active"]]}
    return render_template("admin/users.html", page=page, filters=filters, roles=ROLES,
                           units=ops.list_units(session, me()))


def _refusal(form, exc: DomainError | None = None) -> tuple[str, str]:
    """(message, field) for the page: the form's first refused field, else the tracker's refusal."""
    if exc is None:
        field, message = first_error(form)
        return message, field
    return _message(exc), exc.field or exc.code


@bp.route("/admin/users/new", methods=["GET", "POST"])
@role_required(Role.admin)
def user_new():
    session = db()
    form = UserNewForm(data={"role": Role.employee.value})
    error = field = None
    if form.is_submitted():
        if not form.validate():
            error, field = _refusal(form)
        else:
            done = perform(ops.create_user, me(), email=form.email.data, name=form.name.data, role=form.role.data,
                           unit_id=form.unit.data, password=form.password.data or None)
            if not done:
                error, field = _refusal(form, done.error)
            else:
                user, generated = done.value
                if generated:
                    return render_template("admin/password.html", user=user, password=generated, created=True)
                flash(_("The user %(name)s is created.", name=user.name), "ok")
                return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_new.html", form=form, error=error, field=field, roles=ROLES,
                           units=ops.list_units(session, me())), (400 if error else 200)


def _user_or_404(user_id: int) -> User:
    try:
        return ops.get_user(db(), user_id, me())
    except NotFound:
        abort(404)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def user_edit(user_id: int):
    session = db()
    user = _user_or_404(user_id)
    form = UserEditForm() if request.method == "POST" else \
        UserEditForm(data={"name": user.name, "role": user.role.value, "unit": user.unit_id, "active": user.active})
    error = field = None
    if form.is_submitted():
        if not form.validate():
            error, field = _refusal(form)
        else:
            done = perform(ops.update_user, me(), user, name=form.name.data, role=form.role.data,
                           unit_id=form.unit.data, active=form.active.data)
            if not done:
                error, field = _refusal(form, done.error)
            else:
                flash(_("The changes are saved.") if done.value else _("Nothing was changed."), "ok")
                return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_edit.html", user=user, form=form, error=error, field=field, roles=ROLES,
                           units=ops.list_units(session, me()), tokens=tokens.list_tokens(session, user, me()),
                           token_state=tokens.token_state, token_states=TOKEN_STATES), (400 if error else 200)


@bp.post("/admin/users/<int:user_id>/password")
@role_required(Role.admin)
def user_password(user_id: int):
    if not ActionForm().validate_on_submit():  # its CSRF token (CSRFProtect has checked it before, too)
        abort(400)
    user = _user_or_404(user_id)
    done = perform(ops.reset_password, me(), user)
    if not done:  # signs in with single sign-on: no password in Værn
        flash(_message(done.error), "error")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/password.html", user=user, password=done.value, created=False)


@bp.post("/admin/users/<int:user_id>/tokens/<int:token_id>/revoke")
@role_required(Role.admin)
def token_revoke(user_id: int, token_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    try:
        row, revoked = tokens.revoke_user_token(db(), me(), user.id, token_id)
    except NotFound:
        abort(404)
    if revoked:
        flash(_("The API token %(name)s is revoked. It stops working at once.", name=row.name or "#" + str(row.id)),
              "ok")
    else:
        flash(_("The API token was revoked already."), "ok")
    return redirect(url_for("admin.user_edit", user_id=user.id) + "#tokens-title")


# -- units ----------------------------------------------------------------------------------------
@bp.route("/admin/units", methods=["GET", "POST"])
@role_required(Role.admin)
def units():
    session = db()
    form = UnitForm()
    error = None
    if form.is_submitted():
        if not form.validate():
            error = _refusal(form)[0]
        else:
            done = perform(ops.create_unit, me(), form.name.data)
            if not done:
                error = _message(done.error)
            else:
                flash(_("The unit %(name)s is created.", name=done.value.name), "ok")
                return redirect(url_for("admin.units"))
    return render_template("admin/units.html", units=ops.list_units(session, me()), error=error,
                           name=form.name.data or ""), (400 if error else 200)


@bp.route("/admin/units/<int:unit_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def unit_edit(unit_id: int):
    session = db()
    try:
        unit = ops.get_unit(session, unit_id, me())
    except NotFound:
        abort(404)
    form = UnitForm() if request.method == "POST" else UnitForm(data={"name": unit.name})
    error, name = None, form.name.data or ""
    if form.is_submitted():
        done = perform(ops.rename_unit, me(), unit, form.name.data) if form.validate() else None
        if not done:
            error = _refusal(form)[0] if done is None else _message(done.error)
        else:
            flash(_("The unit is renamed."), "ok")
            return redirect(url_for("admin.units"))
    return render_template("admin/unit_edit.html", unit=unit, name=name, error=error), (400 if error else 200)
