"""The API's OpenAPI 3.1 description (issue 12 point 5): valid by the specification, served without a token,
covering exactly the app's /api/v1 routes, readable as a page under the app's strict CSP; and every
route's JSON input is read through the fields the document declares."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from storage.models import Recheck
from storage.types import utcnow
from tests.support.factories import make_case, make_done_evidence, make_settings, make_unit, make_user
from tracker.accounts.tokens import create_token
from tracker.adapters.runtime import Runtime
from tracker.oversight import offenders as offender_ops
from tracker.workflow import letters as letter_ops
from webui.api.core import OPERATIONS
from webui.api.openapi import CONVERTER, document
from webui.app import CSP, create_app


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    """An app with a leader, a case with evidence, a draft letter, an offender link and an uncertain re-check."""
    rt = Runtime.from_settings(make_settings(tmp_path_factory.mktemp("api-openapi")))
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        employee, leader = make_user(s, "employee", unit), make_user(s, "leader", unit)
        token = create_token(s, leader, name="test")[1]
        case = make_case(s, employee)
        ref, case_id, employee_id = case.ref, case.id, employee.id
        letter = letter_ops.create_letter(s, leader, case, "request_to_author")
        link = offender_ops.add_by_hand(s, case, leader, platform="facebook", handle="@vred.borger")
        values = {"ref": ref, "letter_id": letter.id, "link_id": link.id}
    evidence_id = make_done_evidence(rt, case_id, employee_id)
    with rt.transaction() as s:
        row = Recheck(case_id=case_id, baseline_evidence_id=evidence_id, evidence_id=evidence_id, verdict="uncertain",
                      reason_code="no_sign", details={}, decided_at=utcnow())
        s.add(row)
        s.flush()
        values.update(recheck_id=row.id, evidence_id=evidence_id, job_id=1, attachment_id=1, name="text.txt",
                      step_id="leader_conversation")
    yield app, {"Authorization": f"Bearer {token}"}, values
    rt.close()


def test_the_document_is_valid_openapi_3_1():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any violation of the specification


def test_every_api_route_of_the_app_is_in_the_document_and_nothing_else(org):
    app, _auth, _values = org
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = CONVERTER.sub(r"{\2}", rule.rule)
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "the document names routes the app does not serve"
    assert len(served) == len(OPERATIONS) >= 30


def test_the_document_is_served_without_a_token_and_is_the_generated_one(org):
    app, _auth, _values = org
    resp = app.test_client().get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == document()
    assert "Set-Cookie" not in resp.headers


def test_every_operation_says_who_may_call_it_and_has_a_stable_error_answer():
    doc = document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "Who may:" in op["description"], (method, path)
            if op.get("security") != []:
                assert op["responses"]["401"] == {"$ref": "#/components/responses/E401"}, (method, path)
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "code", "field"]


def test_the_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere(org):
    app, _auth, _values = org
    resp = app.test_client().get("/api/v1/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert resp.headers["Content-Security-Policy"].startswith(CSP.split(";")[0])
    page = resp.get_data(as_text=True)
    for path, item in document()["paths"].items():
        for method, op in item.items():
            assert f'id="{op["operationId"]}"' in page
            assert f"{method.upper()} {path}" in page
    assert "<script" not in page and "style=" not in page
    assert re.findall(r'(?:href|src)="([^"#]*)"', page) == ["/static/vaern.css", "/api/v1/openapi.json"]
    assert "Schemas" in page and "CaseFile" in page and "letter_unfinished" in page


def test_every_route_reads_its_json_through_the_declared_fields(org):
    """An undeclared field is refused by every route that takes JSON, naming the fields it knows."""
    app, auth, values = org
    client = app.test_client()
    checked = 0
    for op in OPERATIONS.values():
        if op.method != "POST" or op.upload:
            continue
        url = "/api/v1" + CONVERTER.sub(lambda m: str(values[m.group(2)]), op.rule)
        resp = client.post(url, headers=auth, json={"no_such_field": 1})
        body = resp.get_json()
        assert (resp.status_code, body["code"], body["field"]) == (400, "unknown_field", "no_such_field"), url
        for name in op.body or {}:
            assert name in body["error"], (url, name)
        checked += 1
    assert checked >= 15


def test_a_time_without_offset_is_refused_with_a_code_named_after_the_field(org):
    app, auth, values = org
    resp = app.test_client().post(f"/api/v1/cases/{values['ref']}/steps/leader_conversation", headers=auth,
                                  json={"state": "done", "decided_at": "2026-11-20T14:05:00"})
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "decided_naive" and resp.get_json()["field"] == "decided_at"
