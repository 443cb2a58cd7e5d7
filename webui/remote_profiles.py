"""Creating a capture profile by logging in (issue 14 point 1): the remote browser on the admin pages.

The administrator opens a remote browser on the platform's login page; Værn runs it as a context of this
process's capture browser (capture/remote.py), behind the same egress proxy and capture policy as every
capture. The page shows it as a screencast (the latest JPEG frame, fetched by long polling) and
webui/static/remote.js forwards clicks, wheel scrolling and keys as small JSON posts (CSRF token in the
``X-CSRFToken`` header). "Save profile" hands the context's storage state to
``tracker.accounts.profiles.save_from_login`` (encrypted there, audited without any value) and closes it.

Why in the web process: ``vaern serve`` is one waitress process, so the session can live in its memory next
to the requests that drive it; the worker would need a control channel and a frame channel for no gain. The
browser is the process's Capturer (the one the embedded worker captures with, or one built on first use).

Sessions: administrators only (404 for everyone else, as every admin page), one per administrator (opening
a new one closes the old), closed on save or cancel, after ``IDLE_SECONDS`` without input or frame requests
and after ``MAX_SECONDS`` in all (a sweeper thread closes them while nobody asks).

What is typed is never stored or logged: the input view reads the JSON body, hands the key or text to the
browser and answers ``{"ok": true}``; it logs nothing, and its refusals name the kind of event, never its
content. Neither Flask nor waitress logs request bodies (waitress runs with ``_quiet``); the input travels
only in POST bodies, never in an address. Nothing is put in the Flask session.
"""
from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from capture.errors import CaptureFailed, CaptureRefused
from capture.remote import RemoteBrowser, RemoteInputError
from storage.models import Role
from tracker.accounts import profiles as ops
from webui.admin import bp
from webui.db import db, perform, runtime
from webui.forms.admin import RemoteOpenForm, RemoteSaveForm, first_error
from webui.profiles_admin import MESSAGES, ProfileImportForm, STATUS
from webui.roles import me, role_required

IDLE_SECONDS = 600  #: a remote browser nobody uses for 10 minutes is closed
MAX_SECONDS = 1800  #: and any after 30 minutes
SWEEP_SECONDS = 15.0
FRAME_WAIT_SECONDS = 1.5  #: a frame request waits this long for a newer frame (long polling)
ENDED = _l("The remote browser is closed (it closes after 10 minutes without use). Open it again to log in.")


@dataclass
class Held:
    remote: RemoteBrowser
    started: float
    used: float
    start_url: str


class RemoteSessions:
    """The open remote browsers of this app, one per administrator (by user id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, Held] = {}
        self._sweeper: threading.Thread | None = None

    def open(self, user_id: int, url: str, opener: Any) -> Held:
        self.close(user_id)
        remote = opener(url)
        now = time.monotonic()
        with self._lock:
            old, self._held[user_id] = self._held.get(user_id), Held(remote, now, now, url)
            if self._sweeper is None or not self._sweeper.is_alive():
                self._sweeper = threading.Thread(target=self._sweep_loop, name="vaern-remote-sweeper", daemon=True)
                self._sweeper.start()
        if old is not None:  # a second tab opened one meanwhile
            old.remote.close()
        return self._held[user_id]

    def get(self, user_id: int) -> Held | None:
        """The administrator's open session (touched: it counts as use), or None if none or expired."""
        self.sweep()
        with self._lock:
            held = self._held.get(user_id)
            if held is not None and not held.remote.closed:
                held.used = time.monotonic()
                return held
        return None

    def close(self, user_id: int) -> None:
        with self._lock:
            held = self._held.pop(user_id, None)
        if held is not None:
            held.remote.close()

    def sweep(self) -> int:
        now = time.monotonic()
        with self._lock:
            gone = [uid for uid, h in self._held.items()
                    if h.remote.closed or now - h.used > IDLE_SECONDS or now - h.started > MAX_SECONDS]
            ended = [self._held.pop(uid) for uid in gone]
        for held in ended:
            held.remote.close()
        return len(ended)

    def _sweep_loop(self) -> None:
        while True:
            time.sleep(SWEEP_SECONDS)
            self.sweep()
            with self._lock:
                if not self._held:
                    self._sweeper = None
                    return


def sessions() -> RemoteSessions:
    return current_app.extensions.setdefault("vaern_remote_browsers", RemoteSessions())


def default_hosts(url: str) -> str:
    """The start page's host, with its port if it is not the scheme's default."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ""
    return f"{host}:{port}" if port and port != {"http": 80, "https": 443}.get(parts.scheme) else host


def _profiles_page(open_form: RemoteOpenForm, error: str, status: int = 400):
    return render_template("admin/profiles.html", profiles=ops.list_profiles(db(), me()), form=ProfileImportForm(),
                           remote_form=open_form, remote_error=error, statuses=STATUS), status


@bp.post("/admin/profiles/remote")
@role_required(Role.admin)
def remote_open():
    form = RemoteOpenForm()
    if not form.validate():
        return _profiles_page(form, first_error(form)[1])
    try:
        sessions().open(me().id, form.url.data.strip(), runtime().open_remote_browser)
    except CaptureRefused:
        return _profiles_page(form, _("Værn may not open this address: the capture policy refuses it (only public "
                                      "addresses on ports 80 and 443, and the allowed exceptions)."))
    except CaptureFailed:
        return _profiles_page(form, _("The remote browser could not be started. Try again in a moment."), 503)
    return redirect(url_for("admin.remote_page"))


def _save_page(held: Held, form: RemoteSaveForm, error: str | None = None, field: str | None = None):
    return render_template("admin/profile_remote.html", held=held, form=form, error=error, field=field,
                           idle_minutes=IDLE_SECONDS // 60), (400 if error else 200)


@bp.get("/admin/profiles/remote")
@role_required(Role.admin)
def remote_page():
    held = sessions().get(me().id)
    if held is None:
        flash(str(ENDED), "info")
        return redirect(url_for("admin.profiles"))
    form = RemoteSaveForm(formdata=None, hosts=default_hosts(held.start_url))
    return _save_page(held, form)


@bp.get("/admin/profiles/remote/frame")
@role_required(Role.admin)
def remote_frame():
    """The newest screencast frame after ``after`` (JSON, the JPEG as a data: address); 204 if none came."""
    held = sessions().get(me().id)
    if held is None:
        return jsonify(ended=True, message=str(ENDED)), 410
    after = request.args.get("after", "0")
    frame = held.remote.frame_after(int(after) if after.isdigit() else 0, FRAME_WAIT_SECONDS)
    if frame is None:
        return "", 204
    return jsonify(seq=frame.seq, url=frame.url, title=frame.title, width=held.remote.width,
                   height=held.remote.height,
                   image="data:image/jpeg;base64," + base64.b64encode(frame.jpeg).decode("ascii"))


@bp.post("/admin/profiles/remote/input")
@role_required(Role.admin)
def remote_input():
    """One click, wheel, key or text for the remote page. Logs nothing; never echoes what was sent."""
    held = sessions().get(me().id)
    if held is None:
        return jsonify(ended=True, message=str(ENDED)), 410
    event = request.get_json(silent=True)
    if not isinstance(event, dict):
        return jsonify(ok=False, error="not a JSON object"), 400
    kind = event.get("type")
    try:
        if kind == "click":
            held.remote.click(event.get("x"), event.get("y"), str(event.get("button") or "left"))
        elif kind == "wheel":
            held.remote.scroll(event.get("x"), event.get("y"), event.get("dx") or 0, event.get("dy") or 0)
        elif kind == "key":
            held.remote.key(event.get("key"))
        elif kind == "text":
            held.remote.text(event.get("text"))
        else:
            return jsonify(ok=False, error="unknown event type"), 400
    except (RemoteInputError, TypeError, ValueError):
        return jsonify(ok=False, error=f"the {kind} event was refused"), 400
    except CaptureFailed:
        return jsonify(ok=False, error=f"the remote browser did not take the {kind} event"), 409
    return jsonify(ok=True)


@bp.post("/admin/profiles/remote/save")
@role_required(Role.admin)
def remote_save():
    held = sessions().get(me().id)
    if held is None:
        flash(str(ENDED), "info")
        return redirect(url_for("admin.profiles"))
    form = RemoteSaveForm()
    if not form.validate():
        field, message = first_error(form)
        return _save_page(held, form, message, field)
    try:
        state = held.remote.storage_state()
    except Exception:  # noqa: BLE001 - the browser died: nothing to save
        sessions().close(me().id)
        flash(str(ENDED), "info")
        return redirect(url_for("admin.profiles"))
    done = perform(ops.save_from_login, me(), runtime().settings, form.name.data, form.hosts.data, state,
                   form.account.data or "")
    if not done:
        return _save_page(held, form, str(MESSAGES.get(done.error.code, done.error.message)), done.error.field)
    sessions().close(me().id)
    row, replaced = done.value
    flash(_("The profile %(name)s is replaced with the new login; the remote browser is closed.", name=row.name)
          if replaced else _("The profile %(name)s is saved; the remote browser is closed.", name=row.name), "ok")
    return redirect(url_for("admin.profiles"))


@bp.post("/admin/profiles/remote/cancel")
@role_required(Role.admin)
def remote_cancel():
    sessions().close(me().id)
    flash(_("The remote browser is closed; nothing was saved."), "ok")
    return redirect(url_for("admin.profiles"))
