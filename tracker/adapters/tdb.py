"""The HTTP call to the EU DSA Transparency Database (see tracker/workflow/tdb.py for what is documented
and what is assumed): ``GET <url>/api/v1/statement/existing-puid/<PUID>`` with the bearer token, a
timeout, and redirects NOT followed (the documented "found" answer is a 302 carrying the statement)."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from tracker.settings import Settings
from tracker.workflow.tdb import Answer

PATH = "/api/v1/statement/existing-puid/"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - keep the 302 as the answer
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def ask_by_puid(base_url: str, token: str, puid: str, timeout: float) -> Answer:
    """One lookup; never raises for what the network or the server does — that is a ``failed`` answer."""
    url = base_url.rstrip("/") + PATH + urllib.parse.quote(puid, safe="")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                                               "Content-Type": "application/json"})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read(2_000_000)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(2_000_000)
    except (OSError, ValueError) as exc:  # refused, timeout, bad address
        return Answer("failed", detail=f"no answer: {exc.__class__.__name__}: {exc}"[:300])
    if status == 404:
        return Answer("no_match", detail="statement of reason not found", http_status=404)
    if status in (200, 302):
        try:
            statement = json.loads(body)
        except ValueError:
            return Answer("failed", detail="the answer was not JSON", http_status=status)
        if isinstance(statement, dict) and statement.get("uuid"):
            return Answer("match", statement=statement, http_status=status)
        return Answer("failed", detail="the answer carried no statement", http_status=status)
    what = {401: "the token was refused", 403: "the token may not look statements up",
            429: "too many lookups"}.get(status, "the database answered with an error")
    return Answer("failed", detail=f"{what} (HTTP {status})", http_status=status)


def asker(settings: Settings) -> Callable[[str], Answer] | None:
    """The lookup for these settings, or None when no token is configured (the feature is off)."""
    if not settings.dsa_tdb_token:
        return None
    url, token, timeout = settings.dsa_tdb_url, settings.dsa_tdb_token, settings.dsa_tdb_timeout
    return lambda puid: ask_by_puid(url, token, puid, timeout)
