"""`vaern verify`'s file checks: re-hash every blob a row refers to (in a few threads), and hold each capture's
rows against its sealed manifest. Split from tracker.integrity.integrity, which runs them with the chain check.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from capture.bundle import MANIFEST_NAME, TIMESTAMP_NAME, TSA_CHAIN_NAME
from storage.blobs import BlobError, BlobMissing, BlobStore, EvidenceStore, iter_store_files, sha256_of_file
from storage.s3blobs import S3BlobStore
from storage.models import Artifact, AuditEvent, Case, CaseStep, Evidence, StepAttachment
from tracker.integrity.integrity_report import HEX64, Problem


# -- blobs ------------------------------------------------------------------------------------------
def blob_references(session: Session) -> dict[str, list[tuple[tuple, str]]]:
    """Every blob a row refers to: SHA-256 → [(sort key, "evidence 12 (case V-2026-00003), artifact x.png"), ...]."""
    refs: dict[str, list[tuple[tuple, str]]] = {}

    def add(sha: str, key: tuple, text: str) -> None:
        refs.setdefault(sha, []).append((key, text))

    artifact_shas: set[tuple[int, str]] = set()
    for sha, name, ev_id, ref in session.execute(
            select(Artifact.sha256, Artifact.name, Artifact.evidence_id, Case.ref)
            .join(Evidence, Evidence.id == Artifact.evidence_id).join(Case, Case.id == Evidence.case_id)):
        artifact_shas.add((ev_id, sha))
        add(sha, (0, ev_id, name), f"evidence {ev_id} (case {ref}), artifact {name}")
    for ev_id, ref, upload, filename, manifest, tsr in session.execute(
            select(Evidence.id, Case.ref, Evidence.upload_sha256, Evidence.original_filename,
                   Evidence.manifest_sha256, Evidence.timestamp_sha256).join(Case, Case.id == Evidence.case_id)
            .where((Evidence.upload_sha256.is_not(None)) | (Evidence.manifest_sha256.is_not(None))
                   | (Evidence.timestamp_sha256.is_not(None)))):
        if upload:
            add(upload, (0, ev_id, "\0upload"), f"evidence {ev_id} (case {ref}), uploaded original {filename or '(no name)'}")
        for sha, what in ((manifest, "manifest"), (tsr, "timestamp token")):
            if sha and (ev_id, sha) not in artifact_shas:  # normally an artifact row names it already
                add(sha, (0, ev_id, "\0" + what), f"evidence {ev_id} (case {ref}), {what}")
    for att_id, sha, filename, step_id, ref in session.execute(
            select(StepAttachment.id, StepAttachment.sha256, StepAttachment.filename, CaseStep.step_id, Case.ref)
            .join(CaseStep, CaseStep.id == StepAttachment.case_step_id).join(Case, Case.id == CaseStep.case_id)
            .where(StepAttachment.sha256.is_not(None))):
        add(sha, (1, att_id, ""), f"step attachment {att_id} (case {ref}, step {step_id}), file {filename or '(no name)'}")
    return refs


def rehash_workers() -> int:
    """Threads for re-hashing: one per core, at least 2 (reads overlap hashing), at most 4."""
    return max(2, min(4, os.cpu_count() or 1))


def rehash_paths(paths: Iterable[Path], workers: int | None = None) -> dict[Path, tuple[str, int] | OSError]:
    """Re-hash files on a few threads: path → (SHA-256, size), or the OSError met (e.g. FileNotFoundError)."""
    return _parallel(list(paths), _hash_or_error, workers or rehash_workers())


def _hash_or_error(path: Path) -> tuple[str, int] | OSError:
    try:
        return sha256_of_file(path)
    except OSError as exc:
        return exc


def _parallel(items: list, fn: Callable, workers: int) -> dict:
    """``{item: fn(item)}``, threads pulling from one shared iterator (no per-item future overhead)."""
    results: dict = {}
    errors: list[BaseException] = []
    it, lock = iter(items), threading.Lock()

    def run() -> None:
        while True:
            with lock:
                item = next(it, _END)
            if item is _END or errors:
                return
            try:
                results[item] = fn(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=run, name=f"vaern-rehash-{i}") for i in range(min(workers, max(1, len(items))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


_END = object()


def check_blobs(store: EvidenceStore, refs: dict[str, list[tuple[tuple, str]]],
                workers: int | None = None) -> tuple[list[Problem], list[str], int, int]:
    """Re-hash every referenced blob and every file in the store: (problems, notes, files hashed, bytes)."""
    if isinstance(store, S3BlobStore):
        return check_s3_blobs(store, refs, workers)
    assert isinstance(store, BlobStore)
    notes: list[str] = []
    on_disk: set[str] = set()
    for name, path in iter_store_files(store.root):
        if HEX64.match(name) and path == store.path_for(name):
            on_disk.add(name)
        else:
            notes.append(f"{path} in the blob store is not a blob (unexpected name or folder)")
    problems: list[tuple[tuple, Problem]] = []
    paths: dict[str, Path] = {}
    for sha in sorted(set(refs) | on_disk):
        if HEX64.match(sha):
            paths[sha] = store.path_for(sha)
        else:
            key, who = _referrers(refs[sha])
            problems.append((key, Problem("blob_name_invalid", sha, f"blob name {sha!r} is not a SHA-256 — {who}")))
    results = rehash_paths(paths.values(), workers)
    hashed = size = 0
    for sha, path in paths.items():
        res = results[path]
        if not isinstance(res, OSError):
            hashed += 1
            size += res[1]
        if sha not in refs:
            if isinstance(res, OSError):
                continue  # removed while we looked, and nothing needs it
            altered = "" if res[0] == sha else f", and its content hashes to {res[0]}"
            notes.append(f"blob {sha} at {path} is not referred to by any row{altered}")
            continue
        key, who = _referrers(refs[sha])
        if isinstance(res, FileNotFoundError):
            problems.append((key, Problem("blob_missing", sha, f"blob {sha} is missing (expected at {path}) — {who}")))
        elif isinstance(res, OSError):
            problems.append((key, Problem("blob_unreadable", sha,
                                          f"blob {sha} at {path} cannot be read ({res.strerror or res}) — {who}")))
        elif res[0] != sha:
            problems.append((key, Problem("blob_altered", sha, f"blob {sha} at {path} was altered: its content "
                                                               f"hashes to {res[0]} — {who}")))
    return [p for _, p in sorted(problems, key=lambda kp: (kp[0], kp[1].subject))], notes, hashed, size


S3_WORKERS = 8  #: parallel GETs when re-hashing an S3 store (network-bound, not CPU-bound)


def check_s3_blobs(store: S3BlobStore, refs: dict[str, list[tuple[tuple, str]]],
                   workers: int | None = None) -> tuple[list[Problem], list[str], int, int]:
    """The same check on S3: stream every recorded version through SHA-256 in parallel, and hold the bucket's
    version listing against the records: a version written over a blob after the recorded one is named."""
    notes: list[str] = []
    recorded = store.all_recorded()
    listed: dict[str, list] = {}
    for v in store.list_versions():
        name = v.key.rsplit("/", 1)[-1]
        if HEX64.match(name) and v.key == store.key_for(name):
            listed.setdefault(name, []).append(v)
        else:
            notes.append(f"s3://{store.bucket}/{v.key} in the blob store is not a blob (unexpected name or folder)")
    problems: list[tuple[tuple, Problem]] = []
    todo: dict[str, str] = {}
    for sha in sorted(set(refs) | set(recorded) | set(listed)):
        if not HEX64.match(sha):
            key, who = _referrers(refs[sha])
            problems.append((key, Problem("blob_name_invalid", sha, f"blob name {sha!r} is not a SHA-256 — {who}")))
        elif sha in recorded:
            todo[sha] = recorded[sha].version_id
    results = _parallel(list(todo), lambda sha: _hash_version(store, sha, todo[sha]), workers or S3_WORKERS)
    hashed = size = 0
    for sha in sorted(set(refs) | set(recorded) | set(listed)):
        if not HEX64.match(sha):
            continue
        where = store.location(sha)
        res = results.get(sha)
        if res is not None and not isinstance(res, BlobError):
            hashed += 1
            size += res[1]
        if sha not in refs:
            if res is None:
                notes.append(f"blob {sha} at {where} is not referred to by any row, and Værn recorded no version of it")
            elif not isinstance(res, BlobError):
                altered = "" if res[0] == sha else f", and its content hashes to {res[0]}"
                notes.append(f"blob {sha} at {where} (version {todo[sha]}) is not referred to by any row{altered}")
            continue
        key, who = _referrers(refs[sha])
        if res is None:
            problems.append((key, Problem("blob_missing", sha, f"blob {sha} is missing: Værn recorded no version of it "
                                          f"({'an unrecorded object is' if sha in listed else 'nothing is'} at {where}) — {who}")))
            continue
        version = todo[sha]
        if isinstance(res, BlobMissing):
            problems.append((key, Problem("blob_missing", sha, f"blob {sha} is missing: the recorded version {version} "
                                          f"of {where} is gone — {who}")))
        elif isinstance(res, BlobError):
            problems.append((key, Problem("blob_unreadable", sha, f"blob {sha} at {where} (version {version}) cannot be "
                                          f"read ({res}) — {who}")))
        elif res[0] != sha:
            problems.append((key, Problem("blob_altered", sha, f"blob {sha} at {where} (version {version}) was altered: "
                                          f"its content hashes to {res[0]} — {who}")))
        mine = next((v for v in listed.get(sha, []) if v.version_id == version), None)
        for v in sorted(listed.get(sha, []), key=lambda v: v.last_modified):
            if v.version_id == version or (mine is not None and v.last_modified < mine.last_modified):
                continue
            what = "a delete marker" if v.delete_marker else "a newer version"
            problems.append((key, Problem("blob_new_version", sha,
                                          f"blob {sha} at {where} has {what} ({v.version_id}, {v.last_modified:%Y-%m-%d %H:%M} "
                                          f"UTC) written over the recorded version {version}; Værn reads only the "
                                          f"recorded version — {who}")))
    return [p for _, p in sorted(problems, key=lambda kp: (kp[0], kp[1].subject))], notes, hashed, size


def _hash_version(store: S3BlobStore, sha: str, version: str) -> tuple[str, int] | BlobError:
    try:
        return store.hash_version(sha, version)
    except BlobError as exc:
        return exc


def _referrers(entries: list[tuple[tuple, str]]) -> tuple[tuple, str]:
    ordered = sorted(set(entries))
    return ordered[0][0], "; ".join(text for _, text in ordered)


# -- rows against their sealed manifests --------------------------------------------------------------
@dataclass
class SealedEvidence:
    """A done capture's rows: what its sealed manifest must agree with."""

    id: int
    ref: str
    fingerprint: str | None
    manifest_sha256: str
    timestamp_sha256: str | None
    artifacts: dict[str, str] = field(default_factory=dict)  #: name → sha256, as the rows say
    captured: tuple[int, str | None] | None = None  #: the ``evidence.captured`` event: (id, fingerprint recorded)


def sealed_evidence(session: Session) -> list[SealedEvidence]:
    """Every evidence with a stored manifest, with its artifact rows, in id order."""
    found: dict[int, SealedEvidence] = {}
    for ev_id, ref, fp, manifest, tsr in session.execute(
            select(Evidence.id, Case.ref, Evidence.fingerprint, Evidence.manifest_sha256, Evidence.timestamp_sha256)
            .join(Case, Case.id == Evidence.case_id).where(Evidence.manifest_sha256.is_not(None)).order_by(Evidence.id)):
        found[ev_id] = SealedEvidence(ev_id, ref, fp, manifest, tsr)
    for ev_id, name, sha in session.execute(select(Artifact.evidence_id, Artifact.name, Artifact.sha256)):
        if ev_id in found:
            found[ev_id].artifacts[name] = sha
    for event_id, object_id, details in session.execute(
            select(AuditEvent.id, AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.action == "evidence.captured").order_by(AuditEvent.id)):
        ev = found.get(int(object_id)) if object_id.isdigit() else None
        if ev is not None:
            ev.captured = (event_id, (details or {}).get("fingerprint") if isinstance(details, dict) else None)
    return list(found.values())


def check_manifests(store: EvidenceStore, sealed: list[SealedEvidence], bad_blobs: set[str],
                    edited_events: set[int]) -> list[Problem]:
    """Each capture's rows must agree with its sealed manifest and with the fingerprint the chain recorded
    at capture time: a row re-pointed at other (intact) bytes, or a capture replaced as a whole, shows here.

    ``bad_blobs`` and ``edited_events`` are reported already: they are not read again.
    """
    problems = []
    for ev in sealed:
        where = f"evidence {ev.id} (case {ev.ref})"

        def problem(text: str) -> None:
            problems.append(Problem("evidence_mismatch", f"evidence:{ev.id}", f"{where}: {text}"))

        if ev.fingerprint != ev.manifest_sha256:
            problem(f"its fingerprint {ev.fingerprint} is not the SHA-256 of its manifest ({ev.manifest_sha256})")
        if ev.captured is not None and ev.captured[0] not in edited_events and ev.captured[1] != ev.fingerprint:
            problem(f"its fingerprint {ev.fingerprint} is not the one audit event {ev.captured[0]} recorded at capture "
                    f"time ({ev.captured[1]}): the capture was replaced")
        if ev.artifacts.get(MANIFEST_NAME) != ev.manifest_sha256:
            problem(f"its {MANIFEST_NAME} row points at {ev.artifacts.get(MANIFEST_NAME)}, not at its manifest {ev.manifest_sha256}")
        if ev.artifacts.get(TIMESTAMP_NAME) != ev.timestamp_sha256:
            problem(f"its {TIMESTAMP_NAME} row points at {ev.artifacts.get(TIMESTAMP_NAME)}, "
                    f"not at its timestamp token {ev.timestamp_sha256}")
        if ev.manifest_sha256 in bad_blobs or not HEX64.match(ev.manifest_sha256):
            continue
        try:
            listed = {a["name"]: a["sha256"] for a in json.loads(store.read(ev.manifest_sha256))["artifacts"]}
        except Exception as exc:  # noqa: BLE001 - a manifest that is not what Værn sealed is the finding
            problem(f"its manifest {ev.manifest_sha256} cannot be read as a Værn manifest ({type(exc).__name__})")
            continue
        rows = {n: sha for n, sha in ev.artifacts.items() if n not in (MANIFEST_NAME, TIMESTAMP_NAME, TSA_CHAIN_NAME)}
        for name in sorted(set(rows) | set(listed)):
            if name not in listed:
                problem(f"artifact {name} (blob {rows[name]}) is not in its sealed manifest (a row was added)")
            elif name not in rows:
                problem(f"artifact {name} (blob {listed[name]}) is in its sealed manifest but has no row (a row was removed)")
            elif rows[name] != listed[name]:
                problem(f"artifact {name} points at blob {rows[name]}, but its sealed manifest lists {listed[name]} "
                        "(the row was altered)")
    return problems
