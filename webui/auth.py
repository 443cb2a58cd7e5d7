"""Log in and out. Same message for an unknown e-mail and a wrong password.

The checks, counters and audit events are ``tracker.accounts.login``'s; this module keeps the cookie
session. A refused login (401) or password change (400) is committed by the request with its records.

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

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from storage.models import User
from storage.types import utcnow
from tracker.accounts import login as ops
from webui import password_text
from webui.db import db, perform, runtime
from webui.extensions import limiter, login_manager
from webui.forms.auth import LoginForm, LogoutForm, PasswordForm, SsoForm
from webui.phone import SHARED
from webui.redirects import safe_target
from webui.timefmt import format_local

bp = Blueprint("auth", __name__)

#: session keys: when the login happened and when the session was last used (POSIX seconds)
AUTH_AT, SEEN_AT, NOTICE = "auth_at", "seen_at", "login_notice"
#: single sign-on (``webui.sso``, which imports this module): its app.extensions key and its session keys
SSO_KEY, SSO_FLAG, SSO_ID_TOKEN = "vaern_sso", "sso", "sso_id_token"
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


def _login_limit() -> str:
    return runtime().settings.login_rate_limit


def _address() -> str:
    return (request.remote_addr or "-")[:100]


def _limits() -> ops.Limits:
    settings = runtime().settings
    return ops.Limits(settings.login_free_attempts, settings.login_free_attempts_per_address)


def _wait_text(wait: int) -> str:
    return ngettext("Too many wrong attempts. Wait %(num)d second and try again.",
                    "Too many wrong attempts. Wait %(num)d seconds and try again.", wait)


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
    local_login = runtime().settings.local_login
    if request.method == "POST" and not local_login:
        abort(404)  # VAERN_LOCAL_LOGIN=false: only single sign-on
    if form.validate_on_submit():
        # a refusal's records (the count, the audit event) are committed with the 401 like a success
        done = ops.log_in(db(), form.email.data, form.password.data, _address(), _limits())
        if done.wait:
            return _login_page(form, _wait_text(done.wait)), 429, \
                {"Retry-After": str(done.wait)}
        if done.user is None:
            error, status = _("The e-mail or the password is wrong."), 401
        else:
            target = safe_target(request.args.get("next"), url_for("cases.index"))
            start_session(done.user)  # a fresh session for the new login (no fixation)
            if done.failed_since_last:
                session[NOTICE] = _failed_logins_notice(done.failed_since_last, done.last_failed_at)
            return redirect(target)
    return _login_page(form, error), status


def _login_page(form: LoginForm, error: str | None) -> str:
    """The login page: the password form (unless VAERN_LOCAL_LOGIN=false) and the single sign-on button."""
    sso_form = SsoForm(next=request.args.get("next", ""))
    return render_template("auth/login.html", form=form, error=error, sso=current_app.extensions.get(SSO_KEY),
                           sso_form=sso_form, local_login=runtime().settings.local_login)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password: the current one is checked (throttled like a login); every other session ends."""
    form = PasswordForm()
    user = current_user.user
    if user.oidc_subject:  # signed in through the provider: no password in Værn to change
        return render_template("auth/password.html", form=None, error=None, sso_account=True)
    error, status = None, 200
    if form.validate_on_submit():
        done = perform(ops.change_password, user, current=form.current.data, new=form.new.data,
                       repeat=form.repeat.data, address=_address(), limits=_limits())
        refused = done.value.refused if done else None
        if not done:  # the policy refused the new password (nothing was written)
            error, status = password_text.for_page(done.error), 400
        elif refused == "throttled":
            error, status = _wait_text(done.value.wait), 429
        elif refused == "wrong_current":  # counted and audited: the 400 commits that
            error, status = _("The current password is wrong."), 400
        elif refused == "mismatch":
            error, status = _("The two new passwords are not the same."), 400
        else:
            start_session(user)  # this browser goes on; every other session has ended
            session[NOTICE] = _("Your password is changed. You are logged out everywhere else.")
            return redirect(url_for("cases.index"))
    return render_template("auth/password.html", form=form, error=error), status


def start_session(user: User) -> None:
    """A fresh session for ``user`` (nothing carried over but the language and a draft shared from the phone,
    which only prefills the report form the person then sends themselves; webui.phone)."""
    lang, shared = session.get("lang"), session.get(SHARED)
    session.clear()
    if lang:
        session["lang"] = lang
    if isinstance(shared, dict):
        session[SHARED] = shared
    login_user(SessionUser(user))
    session[AUTH_AT] = session[SEEN_AT] = int(utcnow().timestamp())


def pop_login_notice() -> str | None:
    """The failed-attempts notice for the page after the login, shown once (a template global)."""
    return session.pop(NOTICE, None) if NOTICE in session else None


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if not LogoutForm().validate_on_submit():  # its CSRF token (CSRFProtect has checked it before, too)
        abort(400)
    ops.log_out(db(), current_user.user)  # every session of this user ends, on every device
    via_sso, id_token = session.get(SSO_FLAG), session.get(SSO_ID_TOKEN)
    logout_user()
    session.clear()
    back_to = url_for("auth.login", _external=True)
    sso = current_app.extensions.get(SSO_KEY)
    if via_sso and sso is not None:  # and at the provider, where it offers an end_session_endpoint
        provider_logout = sso.logout_url(id_token, back_to)
        if provider_logout:
            return redirect(provider_logout)
    return redirect(url_for("auth.login"))

