"""Log in and out. Same message for an unknown e-mail and a wrong password; rate-limited."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from storage.models import User
from tracker import audit
from tracker.users import authenticate
from webui.db import db, runtime
from webui.extensions import limiter, login_manager

bp = Blueprint("auth", __name__)


class SessionUser(UserMixin):
    """Flask-Login's view of a user; the row itself is ``.user``."""

    def __init__(self, user: User):
        self.user = user
        self.id = str(user.id)


@login_manager.user_loader
def load_user(user_id: str) -> SessionUser | None:
    if not user_id.isdigit():
        return None
    user = db().get(User, int(user_id))
    return SessionUser(user) if user is not None and user.active else None


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(_l("Enter your e-mail address.")), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=1000)])


def _email_key() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()[:320]


def _login_limit() -> str:
    return runtime().settings.login_rate_limit


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_email_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("cases.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        session = db()
        user = authenticate(session, form.email.data, form.password.data)
        if user is None:
            error = _("The e-mail or the password is wrong.")
            audit.record(session, None, "auth.login_failed", "user", "-", email=form.email.data.strip().lower()[:320])
            session.commit()
        else:
            login_user(SessionUser(user))
            audit.record(session, user, "auth.login", "user", user.id)
            session.commit()
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("cases.index")
            return redirect(target)
    return render_template("auth/login.html", form=form, error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    session = db()
    audit.record(session, current_user.user, "auth.logout", "user", current_user.user.id)
    session.commit()
    logout_user()
    return redirect(url_for("auth.login"))
