"""Seeing notifications: the demo's mail page (/demo/mail) and the banner when a real install sends none.

In `vaern demo` every mail Værn sends goes through SMTP to the demo's own server (tracker/adapters/demo_mail.py)
and this page lists them, so a visitor sees the notices a leader would get. Outside the demo the page is a 404.
A real install without an SMTP server sends no notifications at all; leaders and administrators then see a
banner on every page, so nobody relies on a mail that never comes.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

from storage.models import Role

bp = Blueprint("demo", __name__)

#: ``app.extensions`` key of the DemoMode `vaern demo` runs the app in (absent in a real install)
DEMO_KEY = "vaern.demo"
#: who is told that notifications are off: the people who would have received them, and who can fix it
BANNER_ROLES = frozenset({Role.leader, Role.admin})


def demo_mode():
    return current_app.extensions.get(DEMO_KEY)


@bp.get("/demo/mail")
@login_required
def mail():
    """Every signed-in demo user may look: the mails carry only a case number and a link, and it is a demo."""
    mode = demo_mode()
    if mode is None:
        abort(404)
    return render_template("demo/mail.html", mails=mode.mail.mailbox.mails(), server=f"{mode.mail.host}:{mode.mail.port}")


def mail_notice() -> str | None:
    """Which banner base.html shows: "demo" (mails go to the demo page), "off" / "off-admin" (no SMTP: leaders,
    and admins, who are told the setting) or None."""
    if not current_user.is_authenticated:
        return None
    if demo_mode() is not None:
        return "demo"
    if not current_app.extensions["vaern"].settings.smtp_host and current_user.user.role in BANNER_ROLES:
        return "off-admin" if current_user.user.role == Role.admin else "off"
    return None


def init_app(app, demo=None) -> None:
    app.extensions[DEMO_KEY] = demo
    app.register_blueprint(bp)
    app.jinja_env.globals["mail_notice"] = mail_notice
