"""Help pages Værn serves itself: short how-tos a case page links to (no case data, so no audit event)."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import login_required

from webui.phone import bookmarklet

bp = Blueprint("help", __name__, url_prefix="/help")


@bp.route("/archiveweb")
@login_required
def archiveweb():
    """How to record a post behind a login in one's own browser with ArchiveWeb.page, and what Værn does with it."""
    return render_template("help/archiveweb.html")


@bp.route("/phone")
@login_required
def iphone():
    """Værn on a phone: install it, share to it (Android), and an Apple Shortcut and a bookmarklet for iPhone."""
    return render_template("help/iphone.html", share_url=request.host_url.rstrip("/") + url_for("phone.shared"),
                           bookmarklet=bookmarklet())
