"""The demo: an organisation with two units and one user per role, a local page that looks like a
Danish Facebook post (so a demo capture works with no internet), made-up earlier cases at their own
past times with real captures of demo pages, and the demo mode `vaern demo` runs the app in (the
Facebook alias for the demo host, the local mail server of ``demo_mail``)."""
from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Case, CaseText, Evidence, EvidenceState, Role, User
from tracker.accounts.rule_files import InForce
from tracker.accounts.users import add_unit, add_user, find_unit
from tracker.cases import casefacts, lifecycle
from tracker.cases.evidence import run_capture_job
from tracker.cases.register import next_ref
from tracker.oversight import audit, offenders
from tracker.workflow import steps
from tracker.workflow.platforms import PlatformDirectory

if TYPE_CHECKING:
    from tracker.adapters.demo_mail import DemoMailServer
    from tracker.adapters.runtime import Runtime

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


#: the demo post is served on this host; in demo mode the platform directory maps it to Facebook
DEMO_FACEBOOK_HOST = "127.0.0.1"
#: the loopback address each demo platform is served on; in demo mode the directory maps it to that platform.
#: Linux answers on all of 127.0.0.0/8; where only 127.0.0.1 exists (macOS), the others are left out
#: and their demo pages are served on 127.0.0.1 (so they count as Facebook there).
DEMO_PLATFORM_HOSTS = {"facebook": "127.0.0.1", "x": "127.0.0.2", "trustpilot": "127.0.0.3", "tiktok": "127.0.0.4"}


@dataclass
class DemoSite:
    """The demo pages served on loopback addresses in background threads (127.0.0.1: the Facebook-like post)."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    #: the other platforms' servers, by platform id
    others: dict[str, ThreadingHTTPServer] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def hosts(self) -> dict[str, str]:
        """platform id → the host its demo pages are served on."""
        return {"facebook": DEMO_FACEBOOK_HOST, **{p: srv.server_address[0] for p, srv in self.others.items()}}

    @property
    def allowed_hosts(self) -> str:
        """The exact host:port pairs the capture policy must let through (VAERN_CAPTURE_ALLOWED_HOSTS form)."""
        servers = [self.server, *self.others.values()]
        return ",".join(f"{srv.server_address[0]}:{srv.server_address[1]}" for srv in servers)

    def url(self, path: str, platform: str = "facebook") -> str:
        srv = self.others.get(platform, self.server)
        return f"http://{srv.server_address[0]}:{srv.server_address[1]}{path}"

    @property
    def post_url(self) -> str:
        return self.url("/groups/borgere-i-kommunen/posts/1048576/")

    def stop(self) -> None:
        for srv in (self.server, *self.others.values()):
            srv.shutdown()
            srv.server_close()


#: a stable port keeps the demo post's address the same across restarts (fallback: any free port)
DEMO_SITE_PORT = 5080


def _serve(host: str, port: int | None) -> tuple[ThreadingHTTPServer, threading.Thread] | None:
    handler = functools.partial(_QuietHandler, directory=str(SITE_DIR))
    for candidate in (port, 0) if port else (0,):
        try:
            server = ThreadingHTTPServer((host, candidate), handler)
        except OSError:
            continue
        thread = threading.Thread(target=server.serve_forever, name=f"vaern-demo-site-{host}", daemon=True)
        thread.start()
        return server, thread
    return None


def start_demo_site(port: int | None = DEMO_SITE_PORT) -> DemoSite:
    started = _serve(DEMO_FACEBOOK_HOST, port)
    if started is None:
        raise OSError("the demo site could not start on 127.0.0.1")
    server, thread = started
    others = {}
    for platform, host in DEMO_PLATFORM_HOSTS.items():
        if host != DEMO_FACEBOOK_HOST:
            other = _serve(host, server.server_address[1])
            if other is not None:
                others[platform] = other[0]
    return DemoSite(server, thread, others)


#: earlier, made-up cases so the HR, offender and MED statistics pages have something to show in the demo:
#: (days ago, unit, platform, category, offender handle, offender kind, police report within 72 h?, outcome);
#: entry n's post is the demo page /earlier/<n>/ (a page that looks like that platform)
DEMO_HISTORY = [
    (160, "Jobcenter", "facebook", "digital_threat", "kommunekritikeren", "professional_querulant", True, "removed"),
    (140, "Jobcenter", "facebook", "digital_harassment", "kommunekritikeren", "professional_querulant", True, "refused"),
    (120, "Borgerservice", "x", "digital_bullying", "sandhedensstemme", "aggrieved_citizen", False, "removed"),
    (95, "Jobcenter", "trustpilot", "digital_harassment", None, None, True, "no_answer"),
    (70, "Borgerservice", "facebook", "digital_harassment", "mor.til.karl", "grieving_relative", True, "removed"),
    (45, "Jobcenter", "facebook", "digital_threat", "kommunekritikeren", "professional_querulant", True, None),
    (20, "Borgerservice", "tiktok", "digital_bullying", None, None, None, None),
]


@contextlib.contextmanager
def _at(moment: datetime, tick: bool = False) -> Iterator[None]:
    """Run the block as if it were ``moment``: every utcnow() (audit, rows, capture manifest) reads that time."""
    import time_machine  # only the demo travels in time; a server never loads it

    with time_machine.travel(moment, tick=tick):
        yield


def seed_demo_history(rt: "Runtime", site: DemoSite, now: datetime, history=DEMO_HISTORY) -> int:
    """Add the made-up earlier cases once (only into an empty case table); returns how many were added.

    Each case happens at its own past time (time-machine moves the clock for every step, so the audit log,
    timeline and capture manifest agree), and its evidence is a real capture of a demo page on ``site``.
    """
    with rt.Session() as session:
        if session.execute(select(func.count()).select_from(Case)).scalar():
            return 0
    rules = rt.rules
    names = {p.id: p.name for p in rt.platforms.platforms}
    for number, (days, unit, platform, category, handle, kind, police_in_time, outcome) in enumerate(history, 1):
        opened = now - timedelta(days=days)
        with _at(opened), rt.transaction() as session:
            by_email = {u.email: u for u in session.execute(select(User)).scalars()}
            employee, leader = (by_email[DEMO_PEOPLE[unit][0]], by_email[DEMO_PEOPLE[unit][1]])
            description = f"(Demo) Opslag på {names.get(platform, platform)} om medarbejderen i {unit}."
            case = Case(ref=next_ref(session, opened), unit_id=employee.unit_id, employee_id=employee.id,
                        reported_by_id=employee.id, episode_at=opened - timedelta(hours=5), description=description,
                        created_at=opened, platform=platform)
            session.add(case)
            session.flush()
            session.add(CaseText(case_id=case.id, body=description, updated_at=opened))
            audit.record(session, employee, "case.create", "case", case.ref, case.id,
                         episode_at=case.episode_at.isoformat(), facts_sha256=casefacts.created(case))
            ev = Evidence(case=case, kind="url", source_url=site.url(f"/earlier/{number}/", platform),
                          state=EvidenceState.queued, created_by_id=employee.id)
            session.add(ev)
            session.flush()
            audit.record(session, employee, "evidence.request", "evidence", ev.id, case.id, url=ev.source_url)
            case_id, ev_id = case.id, ev.id
        with _at(opened + timedelta(minutes=1), tick=True):
            run_capture_job(rt, ev_id)  # the real capture of the demo page, at that time
        with _at(opened + timedelta(hours=3)), rt.transaction() as session:
            case, leader = session.get(Case, case_id), _user(session, DEMO_PEOPLE[unit][1])
            lifecycle.set_category(session, case, leader, category)
            steps.set_state(session, case, "leader_conversation", "done", leader, rules=rules,
                            done_at=opened + timedelta(hours=3), now=opened + timedelta(hours=3))
            if handle:
                link = offenders.add_by_hand(session, case, leader, platform=platform, handle=handle)
                offenders.update_profile(session, case, link.id, leader, kind=kind, note=None, display_name=None)
        if police_in_time is not None:
            reported = opened + timedelta(hours=30 if police_in_time else 100)
            with _at(reported), rt.transaction() as session:
                steps.set_state(session, session.get(Case, case_id), "police_report", "done",
                                _user(session, DEMO_PEOPLE[unit][1]), rules=rules, done_at=reported, now=reported)
        if outcome:
            sent = opened + timedelta(days=1)
            with _at(sent + timedelta(days=7)), rt.transaction() as session:
                case = session.get(Case, case_id)
                steps.record_rung(session, case, "platform_notice", _user(session, DEMO_PEOPLE[unit][1]), sent,
                                  "DSA-formular", f"DEMO-{case.id}", outcome, None, rules=rules,
                                  now=sent + timedelta(days=7))
        if days > 60 and outcome == "removed":
            with _at(opened + timedelta(days=30)), rt.transaction() as session:
                lifecycle.close_case(session, session.get(Case, case_id), _user(session, DEMO_PEOPLE[unit][1]),
                                     "(Demo) Fjernet og fulgt op.")
    return len(history)


#: per unit: (employee, leader) of the made-up cases
DEMO_PEOPLE = {"Jobcenter": ("medarbejder@demo.vaern.dk", "leder@demo.vaern.dk"),
               "Borgerservice": ("medarbejder2@demo.vaern.dk", "leder2@demo.vaern.dk")}


def _user(session: Session, email: str):
    return session.execute(select(User).where(User.email == email)).scalar_one()


# -- demo mode: what `vaern demo` adds to the running app -------------------------------------------


def with_demo_alias(in_force: "InForce", hosts: dict[str, str] | None = None) -> "InForce":
    """``in_force`` with each demo host added to its platform's entry (127.0.0.1: Facebook, 127.0.0.2: X …).

    Only the demo process uses this (a real install never maps a local address to a platform), and the
    capture policy is untouched: the demo pages are reachable because `vaern demo` allow-lists their exact
    host:port pairs, as before.
    """
    hosts = hosts or {"facebook": DEMO_FACEBOOK_HOST}
    directory = in_force.directory
    platforms = tuple(p.model_copy(update={"hosts": (*p.hosts, hosts[p.id])}) if p.id in hosts else p
                      for p in directory.platforms)
    return replace(in_force, directory=PlatformDirectory(platforms, directory.path))


@dataclass
class DemoMode:
    """What `vaern demo` runs next to the app: the demo site and the mail server whose mails /demo/mail lists."""

    site: DemoSite
    mail: "DemoMailServer"

    def in_force(self, in_force: "InForce") -> "InForce":
        return with_demo_alias(in_force, self.site.hosts)

    def stop(self) -> None:
        self.mail.stop()
        self.site.stop()
