"""`vaern verify` on real data (SQLite and PostgreSQL): tamper with blobs and audit events, expect exactly that report.

The data comes from real operations: cases opened, a case viewed, captures stored, an upload and a
step attachment; tampering is done the way an attacker would, on disk and with raw SQL.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from storage.models import Artifact, AuditEvent, Case, Role, User
from tests.support.factories import make_bundle, make_case, make_done_evidence, make_unit, make_user, png_bytes
from tracker.oversight import audit
from tracker.cases.register import add_evidence, view_case
from tracker.integrity.integrity import (ANCHOR_FILE, anchor_head, anchor_if_intact, read_anchors, run_verification,
                               verify_everything)
from tracker.workflow.rules import load_rules
from tracker.workflow.steps import attach_upload

VAERN = shutil.which("vaern", path=str(Path(sys.executable).parent))
RULES = load_rules()


@dataclass
class World:
    ref: str
    case_id: int
    first: int  #: evidence id of the first capture
    second: int
    upload: int  #: evidence id of the uploaded screenshot
    attachment: int  #: step attachment id
    attachment_sha: str


def build_world(rt) -> World:
    """A case with two captures, an uploaded screenshot, a viewed case and a platform's reply attached."""
    with rt.transaction() as s:
        unit = make_unit(s)
        employee, leader = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit)
        case = make_case(s, employee)
        ref, case_id, employee_id, leader_id = case.ref, case.id, employee.id, leader.id
    first = make_done_evidence(rt, case_id, employee_id, bundle=make_bundle(color=(10, 20, 30)))
    second = make_done_evidence(rt, case_id, leader_id, url="https://example.org/opslag/3",
                                bundle=make_bundle(color=(200, 100, 0)))
    upload_sha = rt.blobs.put(png_bytes(color=(0, 90, 200)))
    with rt.transaction() as s:
        leader = s.get(User, leader_id)
        case = view_case(s, ref, leader)
        upload = add_evidence(s, leader, case, upload_sha256=upload_sha, upload_filename="skærmbillede.png").id
        att = attach_upload(s, rt.blobs, case, "platform_notice", leader, png_bytes(color=(1, 2, 3)), "svar.png",
                            max_bytes=10_000_000, rules=RULES)
    return World(ref, case_id, first, second, upload, att.id, att.sha256)


def artifact_sha(rt, evidence_id: int, name: str) -> str:
    with rt.Session() as s:
        return s.execute(select(Artifact.sha256).where(Artifact.evidence_id == evidence_id,
                                                       Artifact.name == name)).scalar_one()


def event_ids(rt) -> list[int]:
    with rt.Session() as s:
        return list(s.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())


def flip_a_byte(path: Path) -> None:
    path.chmod(0o644)  # blobs are stored read-only
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def raw_sql(rt, sql: str, **params) -> None:
    with rt.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.fixture
def world(runtime) -> World:
    return build_world(runtime)


# -- a clean store ----------------------------------------------------------------------------------
def test_an_untouched_store_verifies_with_every_blob_and_event_checked(runtime, world):
    report = verify_everything(runtime)
    with runtime.Session() as s:
        shas = set(s.execute(select(Artifact.sha256)).scalars()) | {world.attachment_sha}
        events = s.scalar(select(func.count()).select_from(AuditEvent))
    assert report.problems == [] and report.notes == [] and report.ok
    assert report.blobs_checked == len(shas) + 1  # + the uploaded original (its capture has not run)
    assert report.events == events
    assert report.summary().startswith(f"OK: {len(shas) + 1} blobs (")
    assert report.summary().endswith(f"{events} audit events in an unbroken chain, no anchors yet")


def test_a_run_records_its_outcome_in_the_chain_and_anchors_the_head_it_walked(runtime, world):
    walked = event_ids(runtime)[-1]
    report, anchor = run_verification(runtime)
    assert report.ok and report.head_id == walked
    with runtime.Session() as s:
        head = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
        walked_hash = s.get(AuditEvent, walked).hash
    assert head.action == "integrity.verify" and head.details["ok"] is True and head.details["problems"] == 0
    # the run's own event was appended after the walk: it was never checked, so it is not what is anchored
    assert head.id > walked and (anchor.event_id, anchor.hash, anchor.count) == (walked, walked_hash, report.events)
    anchors, problems = read_anchors(runtime.settings.data_dir / ANCHOR_FILE)
    assert problems == [] and [(a.event_id, a.hash, a.count) for a in anchors] == [(walked, walked_hash, report.events)]
    again, next_anchor = run_verification(runtime)
    assert again.ok and again.summary().endswith("1 anchor holds")
    assert next_anchor.event_id == head.id  # the next run walked it, and anchors it


def test_an_event_appended_between_the_walk_and_the_anchor_is_not_the_anchored_one(runtime, world):
    walk = audit.walk_chain_in_batches(runtime.Session)
    with runtime.transaction() as s:  # another process appends while the walk's result is being checked
        late = audit.record(s, None, "case.view", "case", world.ref, world.case_id)
        late_id, late_hash = late.id, late.hash
    anchor = anchor_head(runtime, walk.head_id, walk.head_hash, walk.count)
    assert late_id > walk.head_id
    assert (anchor.event_id, anchor.hash, anchor.count) == (walk.head_id, walk.head_hash, walk.count)
    assert (anchor.event_id, anchor.hash) != (late_id, late_hash)
    anchors, _ = read_anchors(runtime.settings.data_dir / ANCHOR_FILE)
    assert [(a.event_id, a.hash) for a in anchors] == [(walk.head_id, walk.head_hash)]
    # had the late event been edited before anyone walked it, the anchor would not vouch for the edit
    raw_sql(runtime, "UPDATE audit_events SET object_id = 'X' WHERE id = :id", id=late_id)
    report = verify_everything(runtime)
    assert [(p.kind, p.subject) for p in report.problems] == [("event_edited", f"event:{late_id}")]


# -- blobs ------------------------------------------------------------------------------------------
def test_one_flipped_byte_in_a_screenshot_is_exactly_one_problem_naming_the_blob_and_its_evidence(runtime, world):
    sha = artifact_sha(runtime, world.second, "screenshot_viewport.png")
    path = runtime.blobs.path_for(sha)
    flip_a_byte(path)
    report = verify_everything(runtime)
    assert [(p.kind, p.subject) for p in report.problems] == [("blob_altered", sha)]
    message = report.problems[0].message
    assert message.startswith(f"blob {sha} at {path} was altered: its content hashes to ")
    assert message.endswith(f"— evidence {world.second} (case {world.ref}), artifact screenshot_viewport.png")
    assert report.summary().startswith("FAILED: 1 problem found")


def test_a_deleted_blob_shared_by_two_captures_is_one_missing_blob_naming_both(runtime, world):
    sha = artifact_sha(runtime, world.first, "page.html")
    assert sha == artifact_sha(runtime, world.second, "page.html")  # same bytes, stored once
    path = runtime.blobs.path_for(sha)
    path.unlink()
    report = verify_everything(runtime)
    assert [p.message for p in report.problems] == [
        f"blob {sha} is missing (expected at {path}) — evidence {world.first} (case {world.ref}), artifact page.html; "
        f"evidence {world.second} (case {world.ref}), artifact page.html"]


def test_a_deleted_step_attachment_and_a_deleted_upload_are_each_named(runtime, world):
    with runtime.Session() as s:
        upload_sha = s.execute(text("SELECT upload_sha256 FROM evidence WHERE id = :i"), {"i": world.upload}).scalar_one()
    for sha in (upload_sha, world.attachment_sha):
        runtime.blobs.path_for(sha).unlink()
    report = verify_everything(runtime)
    assert sorted(p.kind for p in report.problems) == ["blob_missing", "blob_missing"]
    messages = "\n".join(p.message for p in report.problems)
    assert f"evidence {world.upload} (case {world.ref}), uploaded original skærmbillede.png" in messages
    assert f"step attachment {world.attachment} (case {world.ref}, step platform_notice), file svar.png" in messages


def test_a_blob_nothing_refers_to_is_a_note_not_a_failure(runtime, world):
    stray = runtime.blobs.put(b"left behind by an aborted upload")
    report = verify_everything(runtime)
    assert report.ok
    assert report.notes == [f"blob {stray} at {runtime.blobs.path_for(stray)} is not referred to by any row"]


def test_verifying_without_blobs_reads_no_blob(runtime, world):
    flip_a_byte(runtime.blobs.path_for(world.attachment_sha))
    report = verify_everything(runtime, blobs=False)
    assert report.ok and report.blobs_checked is None
    assert report.summary().startswith("OK: blobs not checked, ")


# -- rows against their sealed manifests ------------------------------------------------------------
def test_an_artifact_row_re_pointed_at_other_intact_bytes_is_caught_by_the_sealed_manifest(runtime, world):
    sealed = artifact_sha(runtime, world.first, "screenshot_viewport.png")
    other = artifact_sha(runtime, world.second, "screenshot_viewport.png")
    raw_sql(runtime, "UPDATE artifacts SET sha256 = :o WHERE evidence_id = :e AND name = 'screenshot_viewport.png'",
            o=other, e=world.first)
    report = verify_everything(runtime)
    assert [p.message for p in report.problems] == [
        f"evidence {world.first} (case {world.ref}): artifact screenshot_viewport.png points at blob {other}, "
        f"but its sealed manifest lists {sealed} (the row was altered)"]


def test_a_capture_replaced_as_a_whole_is_caught_by_the_fingerprint_the_chain_recorded(runtime, world):
    fake = make_bundle(color=(5, 5, 5))
    manifest = runtime.blobs.put(fake.manifest_bytes)
    with runtime.engine.begin() as conn:
        for a in fake.artifacts:
            conn.execute(text("UPDATE artifacts SET sha256 = :s WHERE evidence_id = :e AND name = :n"),
                         {"s": runtime.blobs.put(a.data), "e": world.first, "n": a.name})
        conn.execute(text("UPDATE artifacts SET sha256 = :s WHERE evidence_id = :e AND name = 'manifest.json'"),
                     {"s": manifest, "e": world.first})
        conn.execute(text("UPDATE evidence SET fingerprint = :s, manifest_sha256 = :s WHERE id = :e"),
                     {"s": manifest, "e": world.first})
    with runtime.Session() as s:
        captured = s.execute(select(AuditEvent).where(AuditEvent.action == "evidence.captured",
                                                      AuditEvent.object_id == str(world.first))).scalar_one()
    report = verify_everything(runtime)
    assert [p.message for p in report.problems] == [
        f"evidence {world.first} (case {world.ref}): its fingerprint {manifest} is not the one audit event "
        f"{captured.id} recorded at capture time ({captured.details['fingerprint']}): the capture was replaced"]


# -- the audit chain -----------------------------------------------------------------------------------
def test_an_event_edited_with_raw_sql_is_exactly_that_event_reported_as_edited(runtime, world):
    ids = event_ids(runtime)
    target = ids[len(ids) // 2]
    raw_sql(runtime, f"UPDATE audit_events SET details = '{{\"note\": \"ændret\"}}' WHERE id = {target}")
    report = verify_everything(runtime)
    assert [(p.kind, p.subject) for p in report.problems] == [("event_edited", f"event:{target}")]
    assert report.problems[0].message.startswith(
        f"audit event {target} was edited: its content no longer matches its hash (")


def test_an_event_deleted_in_the_middle_is_reported_between_the_events_that_border_the_gap(runtime, world):
    ids = event_ids(runtime)
    i = len(ids) // 2
    before, target, after = ids[i - 1:i + 2]
    raw_sql(runtime, "DELETE FROM audit_events WHERE id = :id", id=target)
    report = verify_everything(runtime)
    assert [p.message for p in report.problems] == [
        f"audit chain broken between event {before} and event {after}: event {after} follows an event that is no "
        f"longer in the chain (event {target} removed, or event {before} rewritten)"]


def test_walking_in_short_batches_finds_the_same_as_one_pass(runtime, world):
    ids = event_ids(runtime)
    raw_sql(runtime, "DELETE FROM audit_events WHERE id = :id", id=ids[3])  # right after the first batch of 3
    raw_sql(runtime, f"UPDATE audit_events SET action = 'case.edit' WHERE id = {ids[6]}")
    with runtime.Session() as s:
        one_pass = audit.walk_chain(s)
    batched = audit.walk_chain_in_batches(runtime.Session, batch=3)
    assert batched == one_pass
    assert [b.event_id for b in batched.broken] == [ids[4]] and [e.id for e in batched.edited] == [ids[6]]
    assert batched.count == len(ids) - 1 and batched.head_id == ids[-1]


def forge_event(rt, follows: AuditEvent, new_id: int) -> None:
    """A well-formed event (its own hash is right) claiming to follow ``follows``."""
    at = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    h = audit.event_hash(follows.hash, at=at.isoformat(), actor_id=None, action="case.view", object_type="case",
                         object_id="V-2026-00001", case_id=None, details={})
    with rt.transaction() as s:
        s.add(AuditEvent(id=new_id, at=at, actor_id=None, action="case.view", object_type="case",
                         object_id="V-2026-00001", case_id=None, details={}, prev_hash=follows.hash, hash=h))


def test_a_forged_event_is_reported_as_a_fork_and_as_inserted_once_an_anchor_vouches_for_the_real_chain(runtime, world):
    with runtime.Session() as s:
        events = list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
    forge_event(runtime, events[1], events[-1].id + 1)
    forged = events[-1].id + 1
    report = verify_everything(runtime)
    assert [p.message for p in report.problems] == [
        f"audit chain forks at event {events[1].id}: event {forged} and events {events[2].id}–{events[-1].id} "
        f"both follow it — event {forged} was inserted, or events {events[2].id}–{events[-1].id} were"]

    raw_sql(runtime, "DELETE FROM audit_events WHERE id = :id", id=forged)
    run_verification(runtime)  # the real chain is anchored now (up to the head it walked)
    last = event_ids(runtime)[-1]  # the run's own integrity.verify event
    forge_event(runtime, events[1], last + 1)
    report = verify_everything(runtime)
    assert [p.message for p in report.problems] == [
        f"audit event {last + 1} was inserted: it claims to follow event {events[1].id}, but events "
        f"{events[2].id}–{last} already hold that place and are covered by an anchor"]


def test_deleting_the_newest_events_after_an_anchor_is_reported_as_truncation(runtime, world):
    _, anchor = run_verification(runtime)
    ids = event_ids(runtime)
    keep = ids[len(ids) // 2]
    raw_sql(runtime, "DELETE FROM audit_events WHERE id > :id", id=keep)
    report = verify_everything(runtime)
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert (problem.kind, problem.subject) == ("anchor_failed", f"event:{anchor.event_id}")
    assert problem.message.startswith("audit chain rewritten or truncated after anchor of ")
    assert problem.message.endswith(
        f"UTC: event {anchor.event_id} is gone (the chain now ends at event {keep}, {ids.index(keep) + 1} events; "
        f"the anchor recorded {anchor.count} events)")


def test_a_consistently_rewritten_chain_passes_the_walk_but_fails_its_anchor(runtime, world):
    _, anchor = run_verification(runtime)
    with runtime.Session() as s:
        events = list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
    prev, rewritten = audit.GENESIS, {}
    with runtime.engine.begin() as conn:  # edit one event, then re-chain everything after it
        for ev in events:
            details = {**ev.details, "rewritten": True} if ev.id == events[3].id else ev.details
            h = audit.event_hash(prev, at=ev.at.isoformat(), actor_id=ev.actor_id, action=ev.action,
                                 object_type=ev.object_type, object_id=ev.object_id, case_id=ev.case_id,
                                 details=details)
            conn.execute(text("UPDATE audit_events SET prev_hash = :p, hash = :h, details = :d, details_sha256 = NULL "
                              "WHERE id = :i"), {"p": prev, "h": h, "d": json.dumps(details), "i": ev.id})
            prev = rewritten[ev.id] = h
    report = verify_everything(runtime)
    assert [(p.kind, p.subject) for p in report.problems] == [("anchor_failed", f"event:{anchor.event_id}")]
    assert (f"event {anchor.event_id} has changed: its hash is now {rewritten[anchor.event_id]}, "
            f"the anchor recorded {anchor.hash}") \
        in report.problems[0].message


def test_an_altered_anchor_file_is_a_problem(runtime, world):
    run_verification(runtime)
    path = runtime.settings.data_dir / ANCHOR_FILE
    path.write_text(path.read_text().replace('"hash": "', '"hash": "zz'))
    report = verify_everything(runtime)
    assert [p.message for p in report.problems] == [
        f"anchor file {path.resolve()}, line 1, is unreadable (the file was altered)"]


def test_the_daily_job_anchors_an_intact_chain_and_refuses_a_broken_one(runtime, world):
    head = event_ids(runtime)[-1]
    assert anchor_if_intact(runtime) == head
    assert anchor_if_intact(runtime) is None  # the head is anchored already: no duplicate line
    raw_sql(runtime, "DELETE FROM audit_events WHERE id = :id", id=event_ids(runtime)[2])
    with runtime.transaction() as s:
        audit.record(s, None, "case.view", "case", world.ref, world.case_id)
    assert anchor_if_intact(runtime) is None
    anchors, _ = read_anchors(runtime.settings.data_dir / ANCHOR_FILE)
    assert [a.event_id for a in anchors] == [head]


# -- the real command -------------------------------------------------------------------------------
def vaern_verify(rt, *args: str) -> subprocess.CompletedProcess:
    """Run ``vaern verify`` as an operator would, on ``rt``'s data directory and database."""
    assert VAERN, f"no vaern console script beside {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAERN_")}
    env["VAERN_DATA_DIR"] = str(rt.settings.data_dir)
    if rt.settings.database_url:
        env["VAERN_DATABASE_URL"] = rt.settings.database_url
    return subprocess.run([VAERN, "verify", *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=rt.settings.data_dir)


def test_the_command_exits_0_on_an_intact_store_and_1_naming_the_altered_blob_and_the_removed_event(runtime, world):
    blobs = verify_everything(runtime).blobs_checked
    ok = vaern_verify(runtime)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = ok.stdout.splitlines()
    assert lines[-1].startswith(f"OK: {blobs} blobs (") and lines[-1].endswith("in an unbroken chain, no anchors yet")
    assert lines[-2].startswith("anchored the chain at event ")

    sha = artifact_sha(runtime, world.first, "screenshot_viewport.png")
    flip_a_byte(runtime.blobs.path_for(sha))
    ids = event_ids(runtime)
    raw_sql(runtime, "DELETE FROM audit_events WHERE id = :id", id=ids[4])
    bad = vaern_verify(runtime)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    lines = bad.stdout.splitlines()
    assert lines[0].startswith(f"blob {sha} at ") and f"evidence {world.first} (case {world.ref})" in lines[0]
    assert lines[1].startswith(f"audit chain broken between event {ids[3]} and event {ids[5]}: ")
    assert lines[-1].startswith(f"FAILED: 2 problems found — {blobs} blobs (")
    assert not any(line.startswith("anchored") for line in lines)  # a broken chain is never anchored


def test_the_command_prints_json_and_exits_2_without_a_database(runtime, world, tmp_path):
    result = vaern_verify(runtime, "--json", "--no-blobs")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["blobs_checked"] is None and report["problems"] == []
    if runtime.settings.database_url is None:
        empty = tmp_path / "tom"
        empty.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAERN_")}
        env["VAERN_DATA_DIR"] = str(empty)
        missing = subprocess.run([VAERN, "verify"], env=env, capture_output=True, text=True, timeout=60, cwd=empty)
        assert missing.returncode == 2
        assert "vaern: no database at" in missing.stderr


# -- case facts against the chain -----------------------------------------------------------------------
def fact_event(rt, case_id: int, action: str) -> int:
    with rt.Session() as s:
        return s.execute(select(AuditEvent.id).where(AuditEvent.case_id == case_id, AuditEvent.action == action)
                         .order_by(AuditEvent.id.desc()).limit(1)).scalar_one()


def test_a_description_edited_with_sql_is_named_with_the_event_that_last_set_it(runtime, world):
    assert verify_everything(runtime).ok
    created = fact_event(runtime, world.case_id, "case.create")
    with runtime.Session() as s:
        recorded = s.get(AuditEvent, created).details["facts_sha256"]
    assert "Grim kommentar" not in json.dumps(recorded)  # only hashes: the text can be erased later
    raw_sql(runtime, "UPDATE cases SET description = :d WHERE id = :id", d="Noget helt andet", id=world.case_id)
    report = verify_everything(runtime)
    assert [(p.kind, p.subject, p.message) for p in report.problems] == [
        ("case_mismatch", f"case:{world.ref}", f"case {world.ref}: description differs from the chain "
                                               f"(last set by event {created}); the case row was changed outside Værn")]
    assert report.chain_holds  # the chain itself is intact: the row is what changed

    result = vaern_verify(runtime, "--no-blobs")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == report.problems[0].message
    raw_sql(runtime, "UPDATE cases SET description = :d WHERE id = :id", d="Grim kommentar om mig", id=world.case_id)
    assert verify_everything(runtime).ok  # the value the chain recorded is back


def test_changes_made_through_varn_are_recorded_and_a_later_sql_edit_names_the_last_event(runtime, world):
    from tracker.cases.lifecycle import close_case, set_category
    from tracker.workflow.steps import set_clock, set_facts

    with runtime.transaction() as s:
        case = s.get(Case, world.case_id)
        leader = s.execute(select(User).where(User.role == Role.leader)).scalars().first()
        set_category(s, case, leader, "digital_threat")
        set_clock(s, case, "episode", datetime(2026, 11, 20, 13, 5, tzinfo=timezone.utc), leader)
        set_facts(s, case, leader, author_known=True)
        close_case(s, case, leader, "Fjernet og fulgt op")
    assert verify_everything(runtime).ok
    category, clock = fact_event(runtime, world.case_id, "case.category"), fact_event(runtime, world.case_id, "clock.set")
    facts, close = fact_event(runtime, world.case_id, "case.facts"), fact_event(runtime, world.case_id, "case.close")
    with runtime.Session() as s:
        assert set(s.get(AuditEvent, close).details["facts_sha256"]) == {"status", "closed_at"}
        assert set(s.get(AuditEvent, clock).details["facts_sha256"]) == {"episode_at"}
    raw_sql(runtime, "UPDATE cases SET category = 'digital_bullying', episode_at = :e, author_known = :f, "
                     "status = 'open' WHERE id = :id",
            e=datetime(2026, 11, 21, 13, 5), f=False, id=world.case_id)
    report = verify_everything(runtime)
    assert [p.message.split(";")[0] for p in report.problems] == [
        f"case {world.ref}: episode time differs from the chain (last set by event {clock})",
        f"case {world.ref}: category differs from the chain (last set by event {category})",
        f"case {world.ref}: status differs from the chain (last set by event {close})",
        f"case {world.ref}: author known differs from the chain (last set by event {facts})"]


def test_a_case_from_before_facts_were_audited_gets_a_baseline_on_the_first_run_then_is_checked(runtime, world):
    with runtime.transaction() as s:  # a case as the code before this change opened it: no facts_sha256
        reporter = s.execute(select(User).where(User.role == Role.employee)).scalars().first()
        old = Case(ref="V-2025-00001", unit_id=reporter.unit_id, employee_id=reporter.id, reported_by_id=reporter.id,
                   description="Gammel sag", created_at=datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc))
        s.add(old)
        s.flush()
        audit.record(s, reporter, "case.create", "case", old.ref, old.id, episode_at=None)
        old_id = old.id
    report = verify_everything(runtime)
    assert report.ok and len(report.notes) == 1
    assert report.notes[0].startswith("case V-2025-00001: the audit chain has no record yet of its description, ")
    report, _ = run_verification(runtime)
    baseline = fact_event(runtime, old_id, "case.baseline")
    assert report.ok and report.notes == [
        f"case V-2025-00001: its facts were recorded now as a baseline (audit event {baseline}); "
        "a change made to the row before that cannot be detected"]
    again = verify_everything(runtime)
    assert again.ok and again.notes == []
    raw_sql(runtime, "UPDATE cases SET description = 'Omskrevet' WHERE id = :id", id=old_id)
    assert [p.message.split(";")[0] for p in verify_everything(runtime).problems] == [
        f"case V-2025-00001: description differs from the chain (last set by event {baseline})"]
