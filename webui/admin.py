"""Administration: users, units, rule files and the platform directory — never case content.

Only admins reach these pages (others get 404). A generated password is shown once, on the page that
answers the POST, and is stored nowhere but as its argon2 hash.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from storage.models import ApiToken, OrgUnit, Role, User
from tracker.accounts import admin as ops
from tracker.accounts import tokens
from tracker.errors import DomainError, NotFound
from webui import password_text
from webui.db import db, runtime
from webui.labels import PERSON_ROLE_LABELS, PLATFORMS_KEY, RULES_KEY
from webui.roles import me, role_required

bp = Blueprint("admin", __name__)


ROLES = PERSON_ROLE_LABELS
TOKEN_STATES = {"live": _l("In use"), "revoked": _l("Revoked"), "expired": _l("Expired")}
KINDS = {"rules": _l("Rules"), "platforms": _l("Platform directory"), "letter": _l("Letter template"),
         "removal_signs": _l("Removal signs for re-checks")}
MESSAGES = {
    "email": _l("Enter a valid e-mail address."),
    "user_exists": _l("A user with this e-mail address exists already."),
    "name": _l("Enter a name (at most 200 characters)."),
    "role": _l("Choose a role."),
    "unit_required": _l("Employees, leaders and work-environment representatives must belong to a unit."),
    "unit_unknown": _l("Choose one of the units."),
    "last_admin": _l("Værn must keep at least one active administrator. Make someone else an administrator first."),
    "unit_name": _l("Enter a unit name (at most 200 characters)."),
    "unit_exists": _l("A unit with this name exists already."),
}


def _message(exc: DomainError) -> str:
    if exc.code in password_text.CODES:
        return password_text.for_page(exc)
    return str(MESSAGES.get(exc.code, _("The change could not be saved. Check the form.")))


def _override_dir():
    return ops.override_dir(runtime().settings.data_dir)


@bp.app_template_filter("role_name")
def role_name(role) -> str:
    return str(ROLES.get(Role(role), role))


# -- overview -------------------------------------------------------------------------------------
@bp.get("/admin")
@role_required(Role.admin)
def index():
    session = db()
    users = session.execute(select(func.count()).select_from(User).where(User.active.is_(True))).scalar_one()
    units = session.execute(select(func.count()).select_from(OrgUnit)).scalar_one()
    odir = _override_dir()
    overridden = sum(1 for f in ops.rule_files() if f.override(odir).is_file())
    return render_template("admin/index.html", users=users, units=units, overridden=overridden)


# -- users ----------------------------------------------------------------------------------------
def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("/admin/users")
@role_required(Role.admin)
def users():
    session = db()
    role = request.args.get("role", "")
    role = Role(role) if role in Role.__members__ else None
    active = {"1": True, "0": False}.get(request.args.get("active", "1"))
    unit_id = _int_arg("unit")
    page = ops.list_users(session, unit_id=unit_id, role=role, active=active, page=_int_arg("page") or 1)
    filters = {"unit": unit_id or "", "role": role.value if role else "",
               "active": {True: "1", False: "0", None: "all"}[active]}
    return render_template("admin/users.html", page=page, filters=filters, roles=ROLES, units=ops.list_units(session))


def _form_unit_id() -> int | None:
    value = request.form.get("unit", "")
    return int(value) if value.isdigit() else None


@bp.route("/admin/users/new", methods=["GET", "POST"])
@role_required(Role.admin)
def user_new():
    session = db()
    form = {"email": "", "name": "", "role": "employee", "unit": "", **request.form.to_dict()}
    error = field = None
    if request.method == "POST":
        try:
            user, generated = ops.create_user(session, me(), email=form["email"], name=form["name"],
                                              role=form["role"], unit_id=_form_unit_id(),
                                              password=request.form.get("password") or None)
            session.commit()
        except DomainError as exc:
            session.rollback()
            error, field = _message(exc), exc.field or exc.code
        else:
            if generated:
                return render_template("admin/password.html", user=user, password=generated, created=True)
            flash(_("The user %(name)s is created.", name=user.name), "ok")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_new.html", form=form, error=error, field=field, roles=ROLES,
                           units=ops.list_units(session)), (400 if error else 200)


def _user_or_404(user_id: int) -> User:
    try:
        return ops.get_user(db(), user_id)
    except NotFound:
        abort(404)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def user_edit(user_id: int):
    session = db()
    user = _user_or_404(user_id)
    form = {"name": user.name, "role": user.role.value, "unit": user.unit_id or "", "active": user.active}
    error = field = None
    if request.method == "POST":
        form = {"name": request.form.get("name", ""), "role": request.form.get("role", ""),
                "unit": request.form.get("unit", ""), "active": request.form.get("active") == "1"}
        try:
            changes = ops.update_user(session, me(), user, name=form["name"], role=form["role"],
                                      unit_id=_form_unit_id(), active=form["active"])
            session.commit()
        except DomainError as exc:
            session.rollback()
            error, field = _message(exc), exc.field or exc.code
            user = _user_or_404(user_id)
        else:
            flash(_("The changes are saved.") if changes else _("Nothing was changed."), "ok")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_edit.html", user=user, form=form, error=error, field=field, roles=ROLES,
                           units=ops.list_units(session), tokens=tokens.list_tokens(session, user),
                           token_state=tokens.token_state, token_states=TOKEN_STATES), (400 if error else 200)


@bp.post("/admin/users/<int:user_id>/password")
@role_required(Role.admin)
def user_password(user_id: int):
    session = db()
    user = _user_or_404(user_id)
    password = ops.reset_password(session, me(), user)
    session.commit()
    return render_template("admin/password.html", user=user, password=password, created=False)


@bp.post("/admin/users/<int:user_id>/tokens/<int:token_id>/revoke")
@role_required(Role.admin)
def token_revoke(user_id: int, token_id: int):
    session = db()
    user = _user_or_404(user_id)
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        abort(404)
    label = row.name or "#" + str(row.id)
    if tokens.revoke_token(session, row, me()):
        session.commit()
        flash(_("The API token %(name)s is revoked. It stops working at once.", name=label), "ok")
    else:
        flash(_("The API token was revoked already."), "ok")
    return redirect(url_for("admin.user_edit", user_id=user.id) + "#tokens-title")


# -- units ----------------------------------------------------------------------------------------
@bp.route("/admin/units", methods=["GET", "POST"])
@role_required(Role.admin)
def units():
    session = db()
    error, name = None, request.form.get("name", "")
    if request.method == "POST":
        try:
            unit = ops.create_unit(session, me(), name)
            session.commit()
        except DomainError as exc:
            session.rollback()
            error = _message(exc)
        else:
            flash(_("The unit %(name)s is created.", name=unit.name), "ok")
            return redirect(url_for("admin.units"))
    return render_template("admin/units.html", units=ops.list_units(session), error=error,
                           name=name), (400 if error else 200)


@bp.route("/admin/units/<int:unit_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def unit_edit(unit_id: int):
    session = db()
    try:
        unit = ops.get_unit(session, unit_id)
    except NotFound:
        abort(404)
    error, name = None, request.form.get("name", unit.name)
    if request.method == "POST":
        try:
            ops.rename_unit(session, me(), unit, name)
            session.commit()
        except DomainError as exc:
            session.rollback()
            error = _message(exc)
            unit = ops.get_unit(session, unit_id)
        else:
            flash(_("The unit is renamed."), "ok")
            return redirect(url_for("admin.units"))
    return render_template("admin/unit_edit.html", unit=unit, name=name, error=error), (400 if error else 200)
