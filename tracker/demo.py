"""The demo: an organisation with two units and one user per role, and a local page that looks
like a Danish social-media post, so a demo capture works with no internet."""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy.orm import Session

from storage.models import Role
from tracker.users import add_unit, add_user, find_unit

SITE_DIR = Path(__file__).with_name("demo_site")
DEMO_PASSWORD = "demo-vaern-2026"

#: (e-mail, name, role, unit)
DEMO_USERS = [
    ("medarbejder@demo.vaern.dk", "Mette Jensen", Role.employee, "Jobcenter"),
    ("leder@demo.vaern.dk", "Lars Holm", Role.leader, "Jobcenter"),
    ("amr@demo.vaern.dk", "Aisha Khan", Role.amr, "Jobcenter"),
    ("hr@demo.vaern.dk", "Hanne Riis", Role.hr, None),
    ("admin@demo.vaern.dk", "Anders Dahl", Role.admin, None),
    ("medarbejder2@demo.vaern.dk", "Søren Ølgaard", Role.employee, "Borgerservice"),
    ("leder2@demo.vaern.dk", "Birgitte Å. Nielsen", Role.leader, "Borgerservice"),
]


def ensure_demo_org(session: Session) -> list[tuple[str, str, str]]:
    """Create the demo units and users if missing; return (email, role, unit) for printing."""
    for name in ("Jobcenter", "Borgerservice"):
        if find_unit(session, name) is None:
            add_unit(session, name)
    from sqlalchemy import select

    from storage.models import User

    rows = []
    for email, name, role, unit_name in DEMO_USERS:
        if session.execute(select(User).where(User.email == email)).scalar() is None:
            add_user(session, email=email, name=name, role=role, password=DEMO_PASSWORD,
                     unit=find_unit(session, unit_name) if unit_name else None)
        rows.append((email, role.value, unit_name or "—"))
    return rows


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass


@dataclass
class DemoSite:
    """The fixture post served on 127.0.0.1 in a background thread."""

    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def post_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/groups/borgere-i-kommunen/posts/1048576/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


#: a stable port keeps the demo post's address the same across restarts (fallback: any free port)
DEMO_SITE_PORT = 5080


def start_demo_site(port: int | None = DEMO_SITE_PORT) -> DemoSite:
    handler = functools.partial(_QuietHandler, directory=str(SITE_DIR))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port or 0), handler)
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="vaern-demo-site", daemon=True)
    thread.start()
    return DemoSite(server, thread)
