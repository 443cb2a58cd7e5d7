"""Help pages Værn serves itself: short how-tos a case page links to (no case data, so no audit event)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("help", __name__, url_prefix="/help")


@bp.route("/archiveweb")
@login_required
def archiveweb():
    """How to record a post behind a login in one's own browser with ArchiveWeb.page, and what Værn does with it."""
    return render_template("help/archiveweb.html")
