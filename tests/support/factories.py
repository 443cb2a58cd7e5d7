"""Factories for test data and small helpers shared by the tests."""
from __future__ import annotations

import contextlib
import io
import itertools
import re
import secrets
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from PIL import Image
from sqlalchemy.orm import Session

from capture.bundle import Artifact as BundleArtifact
from capture.bundle import EvidenceBundle
from storage.models import Case, Evidence, OrgUnit, Role, User
from tracker.cases.register import Report, add_evidence, open_case
from tracker.cases.evidence import store_bundle
from tracker.settings import Settings
from tracker.accounts.users import add_unit, add_user
from tests.support.environment import CHROMIUM

PASSWORD = "korrekt-hest-batteri"  #: every factory user's password
_seq = itertools.count(1)


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for one test: everything under ``data_dir``, nothing taken from a VAERN_* environment."""
    values = dict(data_dir=data_dir, database_url=None, redis_url=None, blob_dir=None,
                  secret_key="test-secret-" + secrets.token_hex(8), chromium_path=CHROMIUM,
                  capture_allowed_hosts="", tsa_url=None, smtp_host=None,
                  queue_name="vaern-test-" + secrets.token_hex(4), login_rate_limit="1000 per minute")
    values.update(overrides)
    return Settings(**values)


def make_unit(session: Session, name: str | None = None) -> OrgUnit:
    return add_unit(session, name or f"Enhed {next(_seq)}")


def make_user(session: Session, role: Role | str = Role.employee, unit: OrgUnit | None = None,
              email: str | None = None, name: str | None = None, password: str = PASSWORD) -> User:
    role = Role(role)
    n = next(_seq)
    return add_user(session, email=email or f"{role.value}{n}@test.vaern.dk", name=name or f"Test {role.value} {n}",
                    role=role, password=password, unit=unit)


def make_case(session: Session, reporter: User, *, url: str | None = "https://example.org/opslag/1",
              description: str = "Grim kommentar om mig", episode_at: datetime | None = None) -> Case:
    return open_case(session, reporter, Report(url=url, episode_at=episode_at, description=description))


def png_bytes(width: int = 40, height: int = 30, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def make_bundle(status: str = "ok", color: tuple[int, int, int] = (200, 30, 30)) -> EvidenceBundle:
    """A small sealed bundle like a URL capture's: screenshot, HTML, MHTML, text."""
    arts = [
        BundleArtifact("screenshot_viewport.png", "screenshot_viewport", "image/png", png_bytes(color=color)),
        BundleArtifact("page.html", "html", "text/html", b"<html><script>alert(1)</script>Opslag</html>"),
        BundleArtifact("page.mhtml", "mhtml", "multipart/related", b"MIME-Version: 1.0\r\n\r\nOpslag"),
        BundleArtifact("text.txt", "text", "text/plain; charset=utf-8", "Opslag med æøå".encode()),
    ]
    return EvidenceBundle.seal(status, arts, {"schema": "vaern.manifest/1", "kind": "url"})


def make_done_evidence(rt, case_id: int, actor_id: int, url: str = "https://example.org/opslag/2",
                       bundle: EvidenceBundle | None = None) -> int:
    """Add a URL evidence to the case and store a synthetic sealed bundle for it (state done)."""
    with rt.transaction() as session:
        case = session.get(Case, case_id)
        actor = session.get(User, actor_id)
        ev = add_evidence(session, actor, case, url=url)
        ev_id = ev.id
    store_bundle(rt, ev_id, bundle or make_bundle())
    return ev_id


def evidence_row(rt, evidence_id: int) -> Evidence:
    with rt.Session() as session:
        ev = session.get(Evidence, evidence_id)
        _ = list(ev.artifacts)
        session.expunge_all()
        return ev


def wait_until(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.1,
               message: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@contextlib.contextmanager
def running_consumer(huey, workers: int = 2) -> Iterator[object]:
    """A real huey consumer (threads) in this process; the test process's signal handlers are kept."""
    names = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    saved = {s: signal.getsignal(s) for s in names}
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                    check_worker_health=False, initial_delay=0.05, max_delay=0.3)
    consumer.start()
    for s, handler in saved.items():
        signal.signal(s, handler)
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)


CSRF_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def post_form(client, url: str, data: dict | None = None, **kw):
    """POST the form on ``url`` with its CSRF token, as a browser would."""
    token = CSRF_TOKEN.search(client.get(url).get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kw)


def csrf_login(app, email: str, password: str = PASSWORD):
    """A test client logged in through the real login form, CSRF token taken from the page."""
    client = app.test_client()
    token = CSRF_TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def make_post_bundle(*, author_handle: str | None = None, author_profile_url: str | None = None,
                     phash: str | None = None, dhash: str | None = None, text_sha256: str | None = None,
                     platform: str = "facebook", basis: str = "screenshot_post",
                     color: tuple[int, int, int] = (200, 30, 30)) -> EvidenceBundle:
    """A sealed bundle like a platform capture's: post screenshot, and a manifest naming the author and hashes."""
    arts = [
        BundleArtifact("screenshot_post.png", "screenshot_post", "image/png", png_bytes(color=color)),
        BundleArtifact("text.txt", "text", "text/plain; charset=utf-8", "Opslag med æøå".encode()),
    ]
    manifest = {
        "schema": "vaern.manifest/1", "kind": "url", "platform": platform,
        "post": {"id": None, "author_handle": author_handle, "author_profile_url": author_profile_url,
                 "text_excerpt": None},
        "perceptual_hashes": {"basis": basis, "phash": phash, "dhash": dhash} if phash and dhash else None,
        "text_sha256": text_sha256,
    }
    return EvidenceBundle.seal("ok", arts, manifest)
