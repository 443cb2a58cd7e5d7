"""create_app: the Flask application over one Runtime."""
from __future__ import annotations

import logging

from flask import Flask, request, session
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from tracker import __version__
from tracker.accounts.rule_files import load_in_force, override_dir
from tracker.workflow.rules import Rules
from tracker.adapters.runtime import Runtime
from tracker.settings import Settings, load_settings
from webui import profiles_admin, remote_profiles, rules_admin  # noqa: F401 - add their pages to admin.bp first
from webui import processing_record  # noqa: F401 - adds the record of processing (GDPR art. 30) to admin.bp first
from webui import tdb_lookup  # noqa: F401 - adds the Transparency Database lookup to workflow.bp first
from webui import (admin, api, auth, cases, db, demo_mail, exports, hr, letters, nav, oversight, phone, privacy,
                   rechecks, report, sso, stats, workflow)
from webui.help import bp as help_bp
from webui.extensions import babel, csrf, limiter, login_manager
from webui.labels import IN_FORCE_KEY, PLATFORMS_KEY, RULES_KEY
from webui.timefmt import DATE_PATTERN, DATETIME_PATTERN, format_date_input, format_local
from tracker.adapters.jobs import bind_enqueue_on_commit
from webui.errors import register_error_pages

LANGUAGES = ("da", "en")

CSP = ("default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
#: browser features Værn never uses, switched off for every page
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
                      "magnetometer=(), microphone=(), midi=(), payment=(), usb=()")
#: sent only when cookies are Secure (Værn behind HTTPS); a year, as browsers' preload lists expect
HSTS = "max-age=31536000; includeSubDomains"


class DatabaseInt(IntegerConverter):
    """``<int:…>`` that fits a 64-bit database integer; a larger number is a 404, not an OverflowError."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = 2**63 - 1,
                 signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def security_headers(resp, secure: bool):
    """The headers every response carries; a view's own stricter CSP (e.g. a sandbox) is kept."""
    resp.headers.setdefault("Content-Security-Policy", CSP)
    if "frame-ancestors" not in resp.headers["Content-Security-Policy"]:
        resp.headers["Content-Security-Policy"] += "; frame-ancestors 'none'"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Permissions-Policy"] = PERMISSIONS_POLICY
    resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    resp.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    if secure:
        resp.headers["Strict-Transport-Security"] = HSTS
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def create_app(settings: Settings | None = None, runtime: Runtime | None = None, rules: Rules | None = None,
               demo=None) -> Flask:
    """The app over one Runtime; the rule files are checked here (RulesError: one line, no start).

    ``demo``: the DemoMode of `vaern demo` (its Facebook alias and mail page), None in a real install."""
    settings = settings or (runtime.settings if runtime else load_settings())
    # the rule files, letters and platform directory in force (the municipality's copies in <data_dir>/rules over
    # the shipped ones) are checked at start: RulesError / PlatformDirectoryError / LetterTemplateError, one line
    in_force = load_in_force(override_dir(settings.data_dir))
    if demo is not None:
        in_force = demo.in_force(in_force)
    rules = rules or in_force.rules
    runtime = runtime or Runtime.from_settings(settings)
    runtime.use_in_force(in_force)  # tracker code (letters, reports, platform detection) reads them from here
    bind_enqueue_on_commit(runtime)

    app = Flask(__name__)
    app.url_map.converters["int"] = DatabaseInt  # before any route is added
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=settings.upload_max_bytes + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        BABEL_DEFAULT_LOCALE=settings.language,
        BABEL_DEFAULT_TIMEZONE="Europe/Copenhagen",
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_STRATEGY="fixed-window",
    )
    if settings.trusted_proxies:
        # behind nginx every request comes from 127.0.0.1: believe exactly that many X-Forwarded-* hops, so login
        # throttling and the audit log see the real client; with 0 a forged header changes nothing
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.extensions["vaern"] = runtime
    app.extensions[RULES_KEY] = rules
    app.extensions[PLATFORMS_KEY] = in_force.directory
    app.extensions[IN_FORCE_KEY] = in_force
    logging.getLogger("webui").setLevel(logging.INFO)

    db.init_app(app)  # the request owns its transaction: commit after the view, or roll back (first: runs last)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    limiter.init_app(app)

    for bp in (auth.bp, report.bp, cases.bp, letters.bp, hr.bp, oversight.bp, stats.bp, admin.bp, exports.bp,
               privacy.bp):
        app.register_blueprint(bp)
    app.register_blueprint(help_bp)  # how-to pages (e.g. recording with ArchiveWeb.page)
    api.init_app(app)  # the JSON API: bearer tokens, exempt from CSRF, no session cookie
    workflow.init_app(app)  # the leader's step, ladder, clock and fact forms on the case page
    rechecks.init_app(app)  # re-check reasons, and the leader's decision on an uncertain one
    phone.init_app(app)  # the installable app: manifest, service worker, offline page, share target
    demo_mail.init_app(app, demo)  # the demo's mail page; the banner when notifications are off
    rules_admin.init_app(app)  # rule files saved by another process on this data directory are used here too
    sso.init_app(app, settings)  # single sign-on with the municipality's OpenID Connect provider (if set)

    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["dateinput"] = format_date_input
    app.jinja_env.globals.update(DATETIME_PATTERN=DATETIME_PATTERN, DATE_PATTERN=DATE_PATTERN)
    app.jinja_env.globals["vaern_version"] = __version__
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["nav_menu"] = nav.menu
    app.jinja_env.globals["login_notice"] = auth.pop_login_notice

    @app.after_request
    def _security_headers(resp):
        return security_headers(resp, settings.secure_cookies)

    @app.before_request
    def _language_switch():
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            session["lang"] = lang

    register_error_pages(app)
    return app


def _select_locale() -> str:
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.user.language in LANGUAGES:
        return current_user.user.language
    from flask import current_app

    return current_app.extensions["vaern"].settings.language
