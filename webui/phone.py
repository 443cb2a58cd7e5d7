"""Værn on a phone: the installable web app (manifest, service worker, offline page) and the share target.

The share target (Web Share Target, declared in the manifest) is a POST from the phone's share sheet, which
carries no CSRF token. It is therefore built to change nothing but the sharer's own draft: it keeps the
shared address and words (and a shared file, stored in the blob store by its SHA-256) in the session and
sends the browser to the report form, prefilled. No case exists until the person submits that form, which
carries its CSRF token like every other form. The file's SHA-256 is never taken from a form: the report
form attaches the file named in the session only. Not signed in: the draft waits in the session through the
login (``webui.auth`` keeps it), and the login page returns to the prefilled form.

The service worker caches only the offline page and the files it needs (style sheet, icons); every other
request goes to the network, so no case data is ever stored on the phone by Værn.
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from tracker.accounts.permissions import can_report
from tracker.workflow.steps import has_online_content
from webui.db import runtime
from webui.extensions import csrf, limiter
from webui.forms.case import upload_problem
from webui.share import MAX_SHARED_TEXT, first_address, shared_words

bp = Blueprint("phone", __name__)

#: the session key of the shared draft: {"url", "description", "file_sha256", "file_name", "file_problem"}
SHARED = "shared"
STATIC = Path(__file__).parent / "static"
#: files the service worker keeps for the offline page (never a page with case data)
OFFLINE_FILES = ("vaern.css", "icons/icon-192.png")
THEME = "#0b5c8c"
BACKGROUND = "#f7f7f5"
#: what the share sheet may hand over as a file (the report form's kinds)
SHARE_ACCEPT = ["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "image/*", "application/pdf",
                ".png", ".jpg", ".jpeg", ".webp", ".heic", ".pdf", ".eml", "message/rfc822"]


def _share_limit() -> str:
    return runtime().settings.login_rate_limit  # as often as a login: a share POST may store a file


@bp.route("/manifest.webmanifest")
def manifest():
    """The web app manifest: name, Danish short name, icons, standalone display, start page, colours, share target."""
    icon = lambda name, size, purpose="any": {  # noqa: E731 - a small table
        "src": url_for("static", filename=f"icons/{name}"), "sizes": f"{size}x{size}", "type": "image/png",
        "purpose": purpose}
    data = {
        "id": "/", "name": "Værn – anmeld digital chikane", "short_name": "Værn", "lang": "da", "dir": "ltr",
        "description": "Sikr beviser på trusler og chikane, og følg sagen.",
        "start_url": url_for("report.new", kilde="app"), "scope": "/", "display": "standalone",
        "orientation": "portrait", "theme_color": THEME, "background_color": BACKGROUND,
        "icons": [icon("icon-192.png", 192), icon("icon-512.png", 512), icon("icon-maskable-512.png", 512, "maskable")],
        "share_target": {"action": url_for("phone.share"), "method": "POST", "enctype": "multipart/form-data",
                         "params": {"title": "title", "text": "text", "url": "url",
                                    "files": [{"name": "file", "accept": SHARE_ACCEPT}]}},
    }
    resp = Response(json.dumps(data, ensure_ascii=False, indent=1), mimetype="application/manifest+json")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/sw.js")
def service_worker():
    """The service worker, served from the root so its scope is the whole app."""
    body = (STATIC / "sw.js").read_text(encoding="utf-8")
    files = [url_for("phone.offline")] + [url_for("static", filename=f) for f in OFFLINE_FILES]
    body = body.replace("__OFFLINE_URL__", json.dumps(url_for("phone.offline"))) \
               .replace("__PRECACHE__", json.dumps(files)).replace("__VERSION__", json.dumps(_version()))
    resp = Response(body, mimetype="text/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


def _version() -> str:
    return current_app.jinja_env.globals.get("vaern_version", "0")


@bp.route("/offline")
def offline():
    """What the phone shows without a connection: a report needs one (no user, no case data on this page)."""
    return render_template("phone/offline.html")


@bp.route("/share", methods=["POST"])
@csrf.exempt  # the share sheet sends no token; this only fills the sharer's own draft (see the module docstring)
@limiter.limit(_share_limit)
def share():
    """Receive a shared link, text or file; keep it as the draft; go on to the prefilled form (or the login)."""
    if current_user.is_authenticated and not can_report(current_user.user):
        abort(404)
    draft = _draft_from(request.form.get("title"), request.form.get("text"), request.form.get("url"))
    file = request.files.get("file")
    if file is not None and file.filename is not None and (data := file.read()):
        problem = upload_problem(data)
        if problem:
            draft["file_problem"] = str(problem)
        else:
            draft["file_sha256"] = runtime().blobs.put(data)  # content-addressed: the same photo is one blob
            draft["file_name"] = (file.filename or "delt-fil")[:255]
    session[SHARED] = draft
    target = url_for("phone.shared")
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=target))
    return redirect(target)


@bp.route("/share", methods=["GET"])
@login_required
def shared():
    """The report form filled from the share (``?url=``/``?text=`` from iPhone's Shortcut or the bookmarklet
    replace the draft); it is sent to the report form's own address with its CSRF token."""
    user = current_user.user
    if not can_report(user):
        abort(404)
    if any(request.args.get(k) for k in ("url", "text", "title")):
        session[SHARED] = _draft_from(request.args.get("title"), request.args.get("text"), request.args.get("url"))
    return redirect(url_for("report.new", delt=1))


def _draft_from(title: str | None, text: str | None, url: str | None) -> dict:
    title, text, url = ((v or "")[:MAX_SHARED_TEXT * 4] for v in (title, text, url))
    address = first_address(url, text, title)
    return {"url": address or "", "description": shared_words(title, text, address)}


def pending_share() -> dict | None:
    """The signed-in person's shared draft, if any (for the report form)."""
    draft = session.get(SHARED)
    return draft if isinstance(draft, dict) else None


def forget_share() -> None:
    session.pop(SHARED, None)


def bookmarklet() -> str:
    """The bookmarklet's code for this Værn (its address comes from the request); escaped where it is shown."""
    base = request.host_url.rstrip("/")
    return ("javascript:location.href='" + base + url_for("phone.shared")
            + "?url='+encodeURIComponent(location.href)")


def init_app(app) -> None:
    """The phone's pages, and what templates ask of a case (is there content online, for the ladder)."""
    app.register_blueprint(bp)
    app.jinja_env.globals["has_online_content"] = has_online_content
