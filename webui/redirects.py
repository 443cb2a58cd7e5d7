"""Where Værn may send a browser after a form: only to a page of its own, never elsewhere.

A redirect target taken from the request (``?next=…``) is accepted only as a plain path of this site
that names one of its pages; anything else — another host (``//host``, ``/\\host``, ``https://…``),
control characters or spaces anywhere (a tab or CR/LF that a browser would strip after the check),
backslashes, dot segments, non-ASCII, an unknown page — gives the fallback (the start page).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

MAX_TARGET_LENGTH = 2000
#: printable ASCII without the space; anything else (tab, CR, LF, DEL, non-ASCII, backslash) is refused
_ALLOWED = frozenset(chr(c) for c in range(0x21, 0x7F)) - {"\\"}


def safe_path(target: object) -> str | None:
    """``target`` if it is a path of a page of this app (with its query), else None. Never raises."""
    if not isinstance(target, str) or not target or len(target) > MAX_TARGET_LENGTH:
        return None
    if not set(target) <= _ALLOWED or not target.startswith("/") or target.startswith("//"):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or parts.fragment or not parts.path.startswith("/"):
        return None
    if any(seg in (".", "..") or seg.lower() in ("%2e", "%2e%2e", ".%2e", "%2e.") for seg in parts.path.split("/")):
        return None
    try:
        current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except RequestRedirect:
        return None
    except HTTPException:
        return None
    return target


def safe_target(target: object, fallback: str) -> str:
    """``safe_path(target)`` or ``fallback``."""
    return safe_path(target) or fallback
