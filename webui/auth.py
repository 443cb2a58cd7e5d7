"""Log in and out. Same message for an unknown e-mail and a wrong password.

Sessions that end: the session cookie names the user *and* the user's session generation
(``tracker.accounts.users.end_sessions``); logout, a password reset, deactivation or a change of role or unit
raises the generation, so every cookie issued before stops working at once. A session also ends after
``session_idle_hours`` without a request and ``session_max_days`` after the login.

Throttling without lockout: wrong passwords are counted per (account, client address) and per client
address with growing delays (``tracker.accounts.throttle``); the flood guard (flask-limiter) counts login POSTs
per client address only. Nothing is counted per account alone, so nobody can lock a user out.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from storage.models import User
from storage.types import utcnow
from tracker.oversight import audit
from tracker.accounts import throttle
from tracker.errors import DomainError
from tracker.accounts.users import authenticate, end_sessions, record_failed_login, record_login, set_password
from webui import password_text
from webui.db import db, runtime
from webui.extensions import limiter, login_manager
from webui.redirects import safe_target
from webui.timefmt import format_local

bp = Blueprint("auth", __name__)

#: session keys: when the login happened and when the session was last used (POSIX seconds)
AUTH_AT, SEEN_AT, NOTICE = "auth_at", "seen_at", "login_notice"
#: ``seen_at`` is rewritten at most this often (each rewrite sends a new cookie)
SEEN_RESOLUTION = 60


class SessionUser(UserMixin):
    """Flask-Login's view of a user; the row itself is ``.user``. The session id is ``<id>.<generation>``."""

    def __init__(self, user: User):
        self.user = user
        self.id = str(user.id)

    def get_id(self) -> str:
        return f"{self.user.id}.{self.user.session_generation or 0}"


def _session_alive(now: float) -> bool:
    settings = runtime().settings
    auth_at, seen_at = session.get(AUTH_AT), session.get(SEEN_AT)
    if not isinstance(auth_at, (int, float)) or not isinstance(seen_at, (int, float)):
        return False
    return (now - seen_at <= settings.session_idle_hours * 3600
            and now - auth_at <= settings.session_max_days * 86400 and auth_at <= now + 300)


@login_manager.user_loader
def load_user(session_id: str) -> SessionUser | None:
    """The user of a live session: right generation, active, neither idle nor too old; else None."""
    user_id, _dot, generation = (session_id or "").partition(".")
    if not (user_id.isdigit() and generation.isdigit()) or len(user_id) > 18 or len(generation) > 18:
        return None
    user = db().get(User, int(user_id))
    if user is None or not user.active or int(generation) != (user.session_generation or 0):
        return None
    now = utcnow().timestamp()
    if not _session_alive(now):
        session.clear()
        flash(_("Your session has ended. Log in again."), "info")
        return None
    if now - session[SEEN_AT] >= SEEN_RESOLUTION:
        session[SEEN_AT] = int(now)
    return SessionUser(user)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(_l("Enter your e-mail address.")), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=1000)])


def _login_limit() -> str:
    return runtime().settings.login_rate_limit


def _address() -> str:
    return (request.remote_addr or "-")[:100]


def _failed_logins_notice(count: int, last: datetime | None) -> str:
    when = format_local(last) if last else ""
    return ngettext("There was %(num)d failed login attempt with your e-mail address since you last logged in "
                    "(the last on %(when)s). If it was not you, tell your administrator.",
                    "There were %(num)d failed login attempts with your e-mail address since you last logged in "
                    "(the last on %(when)s). If it was not you, tell your administrator.", count, when=when)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("cases.index"))
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        dbs = db()
        settings = runtime().settings
        email = form.email.data.strip().lower()[:320]
        wait = throttle.wait_seconds(dbs, email, _address(), free_per_account=settings.login_free_attempts,
                                     free_per_address=settings.login_free_attempts_per_address)
        if wait:
            error = ngettext("Too many wrong attempts. Wait %(num)d second and try again.",
                             "Too many wrong attempts. Wait %(num)d seconds and try again.", wait)
            return render_template("auth/login.html", form=form, error=error), 429, {"Retry-After": str(wait)}
        user = authenticate(dbs, email, form.password.data)
        if user is None:
            error, status = _("The e-mail or the password is wrong."), 401
            throttle.record_failure(dbs, email, _address())
            record_failed_login(dbs, email)
            audit.record(dbs, None, "auth.login_failed", "user", "-", email=email)
            dbs.commit()
        else:
            failed, last_failed = record_login(user)
            throttle.record_success(dbs, email, _address())
            audit.record(dbs, user, "auth.login", "user", user.id, **({"failed_since_last": failed} if failed else {}))
            dbs.commit()
            target = safe_target(request.args.get("next"), url_for("cases.index"))
            _start_session(user)  # a fresh session for the new login (no fixation)
            if failed:
                session[NOTICE] = _failed_logins_notice(failed, last_failed)
            return redirect(target)
    return render_template("auth/login.html", form=form, error=error), status


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password.")),
                                                                 Length(max=1000)])
    new = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter a new password.")), Length(max=1000)])
    repeat = PasswordField(_l("New password again"), validators=[DataRequired(_l("Enter the new password again."))])


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password: the current one is checked (throttled like a login); every other session ends."""
    form = PasswordForm()
    user = current_user.user
    error, status = None, 200
    if form.validate_on_submit():
        dbs = db()
        settings = runtime().settings
        wait = throttle.wait_seconds(dbs, user.email, _address(), free_per_account=settings.login_free_attempts,
                                     free_per_address=settings.login_free_attempts_per_address)
        if wait:
            error, status = ngettext("Too many wrong attempts. Wait %(num)d second and try again.",
                                     "Too many wrong attempts. Wait %(num)d seconds and try again.", wait), 429
        elif authenticate(dbs, user.email, form.current.data) is None:
            throttle.record_failure(dbs, user.email, _address())
            audit.record(dbs, user, "auth.password_change_refused", "user", user.id, reason="current_password")
            dbs.commit()
            error, status = _("The current password is wrong."), 400
        elif form.new.data != form.repeat.data:
            error, status = _("The two new passwords are not the same."), 400
        else:
            try:
                set_password(dbs, user, form.new.data, actor=user, action="user.password_change")
            except DomainError as exc:
                dbs.rollback()
                error, status = password_text.for_page(exc), 400
            else:
                dbs.commit()
                _start_session(user)  # this browser goes on; every other session has ended
                session[NOTICE] = _("Your password is changed. You are logged out everywhere else.")
                return redirect(url_for("cases.index"))
    return render_template("auth/password.html", form=form, error=error), status


def _start_session(user: User) -> None:
    """A fresh session for ``user`` (nothing carried over but the language)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(SessionUser(user))
    session[AUTH_AT] = session[SEEN_AT] = int(utcnow().timestamp())


def pop_login_notice() -> str | None:
    """The failed-attempts notice for the page after the login, shown once (a template global)."""
    return session.pop(NOTICE, None) if NOTICE in session else None


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    dbs = db()
    user = current_user.user
    end_sessions(user)  # every session of this user ends, on every device
    audit.record(dbs, user, "auth.logout", "user", user.id)
    dbs.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))

