"""The transaction's owners: a web request (webui.db) and a job or CLI command (tracker.uow.unit_of_work).

Through the real app and the real queue (huey on SQLite, no consumer: what is enqueued stays pending and
is counted): an action that fails leaves nothing written and nothing enqueued; a request that fails after
a successful action rolls it back and sends nothing; a successful one commits once and enqueues then.
"""
from __future__ import annotations

import pytest
from flask import abort
from sqlalchemy import event, func, select

from storage.models import AuditEvent, Case, User
from tests.support.factories import make_case, make_settings, make_unit, make_user
from tracker import uow
from tracker.adapters.runtime import Runtime
from tracker.errors import DomainError
from tracker.oversight import audit
from webui.app import create_app
from webui.db import abort_keeping, db, perform
from webui.extensions import csrf


def open_and_fail(session, user):
    make_case(session, user)  # writes the case, its audit event, a capture job and a leader e-mail to enqueue
    raise DomainError("bad_thing", "the second half of the action failed", "url")


@pytest.fixture
def world(tmp_path):
    rt = Runtime.from_settings(make_settings(tmp_path, smtp_host="localhost"))  # mail configured, never sent here
    app = create_app(runtime=rt)
    commits: list[int] = []

    @event.listens_for(rt.Session, "after_commit")
    def _count(session):
        if uow.outer_commit(session):
            commits.append(1)

    def reporter() -> User:
        return db().execute(select(User).where(User.email == "ansat@kommune.dk")).scalar_one()

    @app.post("/t/<mode>")
    def action(mode: str):
        if mode == "refused":  # a DomainError: the form is shown again, with the refusal audited
            outcome = perform(open_and_fail, reporter())
            assert not outcome and outcome.error.code == "bad_thing"
            audit.record(db(), reporter(), "test.refused", "case", "-")
            return "form again", 400
        outcome = perform(make_case, reporter())
        assert outcome and outcome.value.ref
        if mode == "crash":
            raise RuntimeError("after the action, the request fails")
        if mode == "500":
            abort(500)
        if mode == "keep":
            audit.record(db(), reporter(), "test.integrity_error", "case", "-")
            abort_keeping(500)
        return "ok"

    csrf.exempt(action)  # a test route posted without a form
    with rt.transaction() as s:
        unit = make_unit(s)
        make_user(s, "employee", unit, email="ansat@kommune.dk")
        make_user(s, "leader", unit, email="leder@kommune.dk")
    commits.clear()
    yield rt, app, commits
    rt.close()


def written(rt: Runtime) -> tuple[int, list[str]]:
    with rt.Session() as s:
        return (s.execute(select(func.count(Case.id))).scalar(),
                [a for a in s.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars()
                 if not a.startswith(("unit.", "user."))])


def queued(rt: Runtime) -> list[str]:
    return sorted(t.name for t in rt.huey.pending())


def test_a_successful_request_commits_once_and_enqueues_the_capture_and_the_mail_after(world):
    rt, app, commits = world
    resp = app.test_client().post("/t/ok")
    assert resp.status_code == 200
    assert commits == [1]  # the savepoint's release is not a commit
    assert written(rt) == (1, ["case.create", "evidence.request"])
    assert queued(rt) == ["capture_evidence", "notify_case_opened"]


def test_a_failing_action_leaves_nothing_of_itself_but_the_refusal_is_kept(world):
    rt, app, commits = world
    resp = app.test_client().post("/t/refused")
    assert resp.status_code == 400
    assert written(rt) == (0, ["test.refused"])  # 4xx commits what the view wrote outside the action
    assert queued(rt) == []  # neither the capture nor the leaders' e-mail of the undone case
    assert commits == [1]


@pytest.mark.parametrize("mode", ["crash", "500"])
def test_a_request_that_fails_after_its_action_writes_nothing_and_sends_nothing(world, mode):
    rt, app, commits = world
    resp = app.test_client().post(f"/t/{mode}")
    assert resp.status_code == 500
    assert written(rt) == (0, [])
    assert queued(rt) == []
    assert commits == []


def test_an_error_page_that_records_its_cause_keeps_what_the_request_wrote(world):
    rt, app, _ = world
    assert app.test_client().post("/t/keep").status_code == 500
    assert written(rt) == (1, ["case.create", "evidence.request", "test.integrity_error"])


def test_a_unit_of_work_commits_on_success_and_enqueues_only_then(world):
    rt, _, commits = world
    with uow.unit_of_work(rt) as s:
        reporter = s.execute(select(User).where(User.email == "ansat@kommune.dk")).scalar_one()
        make_case(s, reporter)
        assert queued(rt) == []  # not before the commit
    assert commits == [1]
    assert queued(rt) == ["capture_evidence", "notify_case_opened"]


def test_a_unit_of_work_that_raises_rolls_back_and_runs_no_hook(world):
    rt, _, commits = world
    ran: list[str] = []
    with pytest.raises(RuntimeError), uow.unit_of_work(rt) as s:
        reporter = s.execute(select(User).where(User.email == "ansat@kommune.dk")).scalar_one()
        make_case(s, reporter)
        uow.after_commit(s, lambda: ran.append("mail"))
        raise RuntimeError("the job failed")
    assert (ran, commits, queued(rt), written(rt)) == ([], [], [], (0, []))


def test_a_savepoint_that_rolls_back_forgets_only_its_own_hooks(world):
    rt, _, _ = world
    ran: list[str] = []
    with uow.unit_of_work(rt) as s:
        uow.after_commit(s, lambda: ran.append("before"))
        with pytest.raises(DomainError), uow.savepoint(s):
            uow.after_commit(s, lambda: ran.append("inside, undone"))
            raise DomainError("x", "undone")
        with uow.savepoint(s):
            uow.after_commit(s, lambda: ran.append("inside, kept"))
        assert ran == []  # a savepoint's release runs nothing
    assert ran == ["before", "inside, kept"]
