"""The process-wide wiring: settings → database engine, sessions, blob store, job queue, mail, capturer.

Built once per process (web server, worker, CLI command) and passed down. The domain packages reach the
queue, the mail and the browser only through its methods (``enqueue_capture``, ``tell_removal_verified``,
``capturer`` …), so they import no huey, SMTP or Chromium code themselves (docs/architecture.md).
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from capture.options import CaptureOptions
from capture.pdf import PageFrame, html_to_pdfs
from storage.blobs import BlobError, BlobStore, EvidenceStore
from storage.s3blobs import S3BlobStore
from storage.db import WRITE, make_engine, make_session_factory, upgrade
from tracker import __version__
from tracker.accounts.rule_files import InForce, LoadProblem, load_in_force, load_problem, override_dir, override_stamp
from tracker.adapters import jobs, notify
from tracker.errors import DomainError
from tracker.settings import Settings, SettingsError

log = logging.getLogger(__name__)
#: seconds between two looks at the rule files on disk (a save in another process is used this much later)
RULES_LOOK_EVERY = 5.0


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    Session: sessionmaker[Session]
    blobs: EvidenceStore
    capture_options: CaptureOptions
    _huey: object | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _in_force: InForce | None = field(default=None, repr=False)
    _in_force_stamp: tuple | None = field(default=None, repr=False)
    _in_force_looked: float = field(default=0.0, repr=False)
    _in_force_since: datetime | None = field(default=None, repr=False)  #: when the files in use were loaded
    _load_problem: LoadProblem | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, migrate: bool = True) -> "Runtime":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if migrate:
            upgrade(url)
        engine = make_engine(url)
        return cls(settings=settings, engine=engine, Session=make_session_factory(engine),
                   blobs=make_blob_store(settings, engine),
                   capture_options=settings.capture_options(__version__))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work that writes: commits on success, rolls back on any exception.

        On SQLite it takes the write lock at its start (a plain ``Session()`` reads without it).
        """
        with self.Session(execution_options=WRITE) as session, session.begin():
            yield session

    @property
    def rules_dir(self) -> Path:
        """The municipality's own copies of the rule files, letters and platform directory (admin pages)."""
        return override_dir(self.settings.data_dir)

    @property
    def in_force(self) -> InForce:
        """The checked rule files in force (local copies over the shipped files): rules, platform directory, removal
        signs, retention, exceptions to erasure, texts of the record of processing (letters: checked only).

        Loaded on first use; the loader's DomainError (RulesError, RetentionRulesError …, one line) if broken.
        """
        with self._lock:
            if self._in_force is None:
                self._in_force_stamp = override_stamp(self.rules_dir)
                self._in_force = load_in_force(self.rules_dir)
                self._in_force_since = datetime.now(timezone.utc)
            return self._in_force

    def use_in_force(self, in_force: InForce) -> None:
        """Switch this process to newly saved and checked files (other processes: ``refresh_in_force``)."""
        with self._lock:
            self._in_force_stamp = override_stamp(self.rules_dir)
            self._in_force = in_force
            self._in_force_since = datetime.now(timezone.utc)
            self._load_problem = None

    def refresh_in_force(self) -> bool:
        """Load the files again if another process on this data directory saved new ones (looked at no more than
        every RULES_LOOK_EVERY seconds). True if this process now uses new files; a file that does not load is
        logged once, the files in use are kept and ``load_problem`` says why."""
        now = time.monotonic()
        with self._lock:
            if self._in_force is None or now - self._in_force_looked < RULES_LOOK_EVERY:
                return False
            self._in_force_looked = now
            stamp = override_stamp(self.rules_dir)
            if stamp == self._in_force_stamp:
                return False
            self._in_force_stamp = stamp  # a broken file is reported once, not at every look
        try:
            fresh = load_in_force(self.rules_dir)
        except Exception as exc:  # noqa: BLE001 - a loader's DomainError, or anything a file by hand may cause
            with self._lock:
                self._load_problem = load_problem(exc, self.rules_dir, noticed_at=datetime.now(timezone.utc),
                                                  in_use_since=self._in_force_since)
                message = self._load_problem.message
            log.error("the rule files in %s changed but do not load; keeping the ones in use: %s", self.rules_dir,
                      message, exc_info=not isinstance(exc, DomainError))
            return False
        with self._lock:
            self._in_force = fresh
            self._in_force_since = datetime.now(timezone.utc)
            self._load_problem = None
        log.info("rule files in %s changed on disk: now in use", self.rules_dir)
        return True

    @property
    def load_problem(self) -> LoadProblem | None:
        """Why the rule files on disk are not in use (the last look found one that does not load), else None."""
        with self._lock:
            return self._load_problem

    @property
    def rules(self):
        return self.in_force.rules

    @property
    def platforms(self):
        return self.in_force.directory

    @property
    def removal_signs(self):
        return self.in_force.removal_signs

    @property
    def retention(self):
        return self.in_force.retention

    @property
    def erasure_exceptions(self):
        return self.in_force.erasure_exceptions

    @property
    def processing_texts(self):
        return self.in_force.processing_texts

    @property
    def letters_dir(self) -> Path:
        return self.rules_dir / "letters"

    @property
    def huey(self):
        """The job queue (huey on SQLite by default, on Redis when VAERN_REDIS_URL is set)."""
        with self._lock:
            if self._huey is None:
                self._huey = jobs.make_huey(self)
            return self._huey

    # -- the ports the domain calls (queue, mail, browser) ------------------------------------------
    def enqueue_capture(self, evidence_id: int) -> None:
        """Enqueue a committed capture now (the sweep enqueues it again if this fails)."""
        jobs.enqueue_capture(self, evidence_id)

    def enqueue_export(self, job_id: int) -> None:
        self.huey.vaern_export(job_id)  # type: ignore[attr-defined]

    def enqueue_subject_export(self, job_id: int) -> None:
        """Enqueue the build of an access package (the sweep enqueues it again if this fails)."""
        self.huey.vaern_subject_export(job_id)  # type: ignore[attr-defined]

    def capturer(self):
        """The process's capturer (browser + egress proxy), built on first use."""
        return jobs.get_capturer(self)

    def open_remote_browser(self, url: str):
        """An interactive page on ``url`` in the process's capture browser, behind its egress proxy (issue 14)."""
        return jobs.get_capturer(self).open_remote(url)

    def close_capturer(self) -> None:
        """Drop the process's capturer (a broken browser or proxy is rebuilt for the next capture)."""
        jobs.close_capturer()

    def print_pdf(self, html: str, *, header: str, footer: str, page_label: str, timeout_seconds: float) -> bytes:
        """One document: ``print_pdfs`` with a single entry."""
        return self.print_pdfs([(html, header, footer, page_label)], timeout_seconds=timeout_seconds)[0]

    def print_pdfs(self, documents: list[tuple[str, str, str, str]], *, timeout_seconds: float) -> list[bytes]:
        """Print self-contained HTML documents, each ``(html, header, footer, page_label)``, to A4 PDFs with
        one Chromium that cannot reach the network (capture.pdf)."""
        return html_to_pdfs([(html, PageFrame(header=header, footer=footer, page_label=page_label))
                             for html, header, footer, page_label in documents],
                            self.capture_options, timeout_seconds=timeout_seconds)

    def mail_configured(self) -> bool:
        return notify.mail_configured(self)

    def send_text_once(self, key: str, recipient_id: int, kind: str, subject: str, body: str) -> bool:
        """Send a mail about no single case once per ``key`` (tracker.adapters.notify.send_text_once)."""
        return notify.send_text_once(self, key, recipient_id, kind, subject, body)

    def tell_removal_verified(self, case_id: int) -> int:
        """Tell the unit's leaders that re-checks verified the removal (once per verifying capture)."""
        return notify.removal_verified(self, case_id)

    def close(self) -> None:
        jobs.close_capturer()
        self.engine.dispose()


def make_blob_store(settings: Settings, engine: Engine) -> EvidenceStore:
    """The local store (default), or the S3 store for an ``s3://`` VAERN_BLOB_URL, its bucket checked now.

    Raises SettingsError (one line) when the bucket cannot be reached or lacks versioning or object lock.
    """
    if settings.blob_url is None:
        return BlobStore(settings.resolved_blob_dir)
    store = S3BlobStore.from_url(settings.blob_url, engine, endpoint_url=settings.s3_endpoint_url,
                                 lock_days=settings.s3_object_lock_days or 0, lock_mode=settings.s3_object_lock_mode)
    try:
        store.check_bucket()
    except BlobError as exc:
        raise SettingsError(f"vaern: invalid setting VAERN_BLOB_URL: {exc}") from None
    return store
