"""A fake EU DSA Transparency Database on 127.0.0.1 answering the documented API shape
(``GET /api/v1/statement/existing-puid/<PUID>`` with a bearer token: 302 and the statement, or 404 and
``{"message": "statement of reason not found"}``; 401 for a wrong token)."""
from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_TOKEN = "X|kommunens-test-token"
STATEMENT = {"uuid": "4b449e79-a41f-4934-aa9a-9c442899951e", "puid": "post-777",
             "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"], "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
             "category": "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
             "platform_name": "Facebook", "application_date": "2026-11-20",
             "permalink": "https://transparency.dsa.ec.europa.eu/statement/4b449e79-a41f-4934-aa9a-9c442899951e"}


class FakeTdb(BaseHTTPRequestHandler):
    """post-777: found (302 with the statement); boom: 500; slow: answers after 3 s; else 404. A wrong token: 401."""

    seen: list[tuple[str, str]] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        FakeTdb.seen.append((self.path, self.headers.get("Authorization", "")))
        prefix = "/api/v1/statement/existing-puid/"
        if not self.path.startswith(prefix):
            return self._answer(404, {"message": "Not Found"})
        if self.headers.get("Authorization") != f"Bearer {API_TOKEN}":
            return self._answer(401, {"message": "Unauthenticated."})
        puid = self.path.removeprefix(prefix)
        if puid == "post-777":
            return self._answer(302, STATEMENT)
        if puid == "boom":
            return self._answer(500, {"message": "Server Error"})
        if puid == "slow":
            time.sleep(3)
        return self._answer(404, {"message": "statement of reason not found"})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 302:
            self.send_header("Location", "/statement/elsewhere")
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:  # the slow answer: Værn stopped waiting (its timeout), as it should
            pass

    def log_message(self, *args):  # quiet
        pass


@contextlib.contextmanager
def running_tdb() -> Iterator[str]:
    """Serve the fake database at a free port; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTdb)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
