"""The demo: an organisation with two units and one user per role, and a local page that looks
like a Danish social-media post, so a demo capture works with no internet."""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy.orm import Session

from storage.models import Case, CaseText, Role, User
from tracker.accounts.users import add_unit, add_user, find_unit
from tracker.cases import lifecycle
from tracker.cases.register import next_ref
from tracker.oversight import offenders
from tracker.workflow import steps

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


#: earlier, made-up cases so the HR, offender and MED statistics pages have something to show in the demo:
#: (days ago, unit, platform, category, offender handle, offender kind, police report within 72 h?, outcome)
DEMO_HISTORY = [
    (160, "Jobcenter", "facebook", "digital_threat", "kommunekritikeren", "professional_querulant", True, "removed"),
    (140, "Jobcenter", "facebook", "digital_harassment", "kommunekritikeren", "professional_querulant", True, "refused"),
    (120, "Borgerservice", "x", "digital_bullying", "sandhedensstemme", "aggrieved_citizen", False, "removed"),
    (95, "Jobcenter", "trustpilot", "digital_harassment", None, None, True, "no_answer"),
    (70, "Borgerservice", "facebook", "digital_harassment", "mor.til.karl", "grieving_relative", True, "removed"),
    (45, "Jobcenter", "facebook", "digital_threat", "kommunekritikeren", "professional_querulant", True, None),
    (20, "Borgerservice", "tiktok", "digital_bullying", None, None, None, None),
]


def seed_demo_history(session: Session, rules, now) -> int:
    """Add the made-up earlier cases once (only into an empty case table); returns how many were added."""
    from datetime import timedelta

    from sqlalchemy import func, select

    if session.execute(select(func.count()).select_from(Case)).scalar():
        return 0
    by_email = {u.email: u for u in session.execute(select(User)).scalars()}
    people = {"Jobcenter": (by_email["medarbejder@demo.vaern.dk"], by_email["leder@demo.vaern.dk"]),
              "Borgerservice": (by_email["medarbejder2@demo.vaern.dk"], by_email["leder2@demo.vaern.dk"])}
    for days, unit, platform, category, handle, kind, police_in_time, outcome in DEMO_HISTORY:
        employee, leader = people[unit]
        opened = now - timedelta(days=days)
        description = f"(Demo) Opslag på {platform} om medarbejderen i {unit}."
        case = Case(ref=next_ref(session, opened), unit_id=employee.unit_id, employee_id=employee.id,
                    reported_by_id=employee.id, episode_at=opened - timedelta(hours=5), description=description,
                    created_at=opened, platform=platform)
        session.add(case)
        session.flush()
        session.add(CaseText(case_id=case.id, body=description, updated_at=opened))
        lifecycle.set_category(session, case, leader, category)
        steps.set_state(session, case, "leader_conversation", "done", leader, rules=rules,
                        done_at=opened + timedelta(hours=3), now=now)
        if police_in_time is not None:
            steps.set_state(session, case, "police_report", "done", leader, rules=rules,
                            done_at=opened + timedelta(hours=30 if police_in_time else 100), now=now)
        if handle:
            link = offenders.add_by_hand(session, case, leader, platform=platform, handle=handle)
            offenders.update_profile(session, case, link.id, leader, kind=kind, note=None, display_name=None)
        if outcome:
            steps.record_rung(session, case, "platform_notice", leader, opened + timedelta(days=1), "DSA-formular",
                              f"DEMO-{case.id}", outcome, None, rules=rules, now=now)
        if days > 60 and outcome == "removed":
            lifecycle.close_case(session, case, leader, "(Demo) Fjernet og fulgt op.")
    return len(DEMO_HISTORY)
