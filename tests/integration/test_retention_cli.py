"""`vaern case hold|release`, `vaern retention run --as-of --dry-run` and `vaern verify` as an operator runs them."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import Case, Role, User
from storage.types import utcnow
from tests.support.cli import said, vaern
from tests.support.factories import make_bundle, make_case, make_done_evidence, make_unit, make_user
from tracker.cases.lifecycle import close_case


def test_an_operator_holds_a_case_dry_runs_erases_and_verifies(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        employee, leader = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit)
        cases = [make_case(s, employee) for _ in range(2)]
        ids, refs, emp_id, leader_id = [c.id for c in cases], [c.ref for c in cases], employee.id, leader.id
    for n, case_id in enumerate(ids):
        make_done_evidence(runtime, case_id, emp_id, bundle=make_bundle(color=(n, 1, 2)))
    with runtime.transaction() as s:
        for case_id in ids:
            close_case(s, s.get(Case, case_id), s.get(User, leader_id), "Fjernet")
    env = {"database_url": runtime.settings.database_url} if runtime.settings.database_url else {}

    def run(*args: str):
        return vaern(*args, data_dir=runtime.settings.data_dir, **env)

    held = run("case", "hold", refs[1], "--reason", "Retssag ved byretten")
    assert held.returncode == 0, held.stderr
    assert held.stdout.strip() == f"vaern: case {refs[1]} is under legal hold"
    again = run("case", "hold", refs[1], "--reason", "igen")
    assert (again.returncode, said(again.stderr)) == (2, ["vaern: the case is held already"])
    as_of = (utcnow() + timedelta(days=6 * 365)).date().isoformat()
    dry = run("retention", "run", "--as-of", as_of, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[:2] == [f"case {refs[0]}: would erase (rule closed_case)",
                                          f"case {refs[1]}: due, but under legal hold: kept"]
    with runtime.Session() as s:
        assert s.execute(select(Case.erased_at).where(Case.ref == refs[0])).scalar_one() is None
    done = run("retention", "run", "--as-of", as_of)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"case {refs[0]}: erased (rule closed_case)"
    assert done.stdout.splitlines()[-1].startswith(f"1 case(s), 0 offender(s), 0 suggestion(s) erased as of {as_of}")
    verified = run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert any(line.startswith(f"note: case {refs[0]} erased ") and line.endswith(")") for line in verified.stdout.splitlines())
    released = run("case", "release", refs[1])
    assert released.returncode == 0, released.stderr
    bad_date = run("retention", "run", "--as-of", "31-12-2031")
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
