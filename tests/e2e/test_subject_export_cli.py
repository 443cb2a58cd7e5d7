"""`vaern subject export --email E --out FILE.zip` as an operator runs it (GDPR art. 15, issue 16.4): the ZIP's
subject.json, the evidence bytes and their SHA-256, the manifest and SHA256SUMS, and the Danish PDF read back
with pypdf. In e2e, not integration: the command prints the PDF in Chromium."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from storage.models import Artifact, AuditEvent, Case, Role, User
from tests.support.cli import said, vaern
from tests.support.factories import make_case, make_done_evidence, make_unit, make_user
from tracker.workflow import letters as letter_ops
from tracker.workflow.rules import load_rules

SHOTS = Path("/tmp/vaern-shots")


def test_an_operator_exports_what_vaern_holds_about_an_employee(runtime, tmp_path):
    with runtime.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        mette = make_user(s, Role.employee, unit, email="mette@kommune.dk", name="Mette Jensen")
        lone = make_user(s, Role.leader, unit, name="Lone Leder")
        hr = make_user(s, Role.hr, name="Hanne HR", email="hanne@kommune.dk")
        case = make_case(s, mette, description="Trusler mod mig i kommentarfeltet")
        ids, ref, case_id = {"mette": mette.id, "lone": lone.id, "hr": hr.id}, case.ref, case.id
    evidence_id = make_done_evidence(runtime, case_id, ids["mette"])
    with runtime.transaction() as s:
        c_letter = letter_ops.create_letter(s, s.get(User, ids["lone"]), s.get(Case, case_id), "request_to_author",
                                            rules=load_rules()).id
    env = {"database_url": runtime.settings.database_url} if runtime.settings.database_url else {}
    out = tmp_path / "indsigt.zip"

    done = vaern("subject", "export", "--email", "Mette@kommune.dk", "--out", str(out), "--as", "hanne@kommune.dk",
                 data_dir=runtime.settings.data_dir, timeout=300, **env)
    assert done.returncode == 0, done.stderr
    package_sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert done.stdout.splitlines()[-1] == f"SHA-256 {package_sha}"

    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        files = {n: z.read(n) for n in names}
    assert names[0] == "README.txt" and names[-2:] == ["manifest.json", "SHA256SUMS"]
    assert "subject.json" in names and "indsigt.pdf" in names
    assert [n for n in names if n.startswith(f"cases/{ref}/letters/")] == [f"cases/{ref}/letters/{c_letter}.txt"]
    sums = dict(reversed(line.split("  ", 1)) for line in files["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(names) - {"SHA256SUMS"}
    assert all(hashlib.sha256(files[n]).hexdigest() == sha for n, sha in sums.items())
    manifest = json.loads(files["manifest.json"])
    assert manifest["schema"] == "vaern.subject-access-manifest/1"
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {n: sums[n] for n in names
                                                                  if n not in ("manifest.json", "SHA256SUMS")}

    doc = json.loads(files["subject.json"])
    assert doc["schema"] == "vaern.subject-access/1"
    assert (doc["subject"]["email"], doc["subject"]["name"]) == ("mette@kommune.dk", "Mette Jensen")
    [c] = doc["cases"]
    assert c["ref"] == ref and c["description"] == "Trusler mod mig i kommentarfeltet"
    assert c["retention"]["state"] == "open" and c["letters"][0]["recipient_da"] == "opslagets ophavsmand"
    ev = next(e for e in c["evidence"] if e["id"] == evidence_id)
    with runtime.Session() as s:
        stored = {a.name: a.sha256 for a in s.execute(select(Artifact).where(Artifact.evidence_id == evidence_id)).scalars()}
    assert {f["name"]: f["sha256"] for f in ev["files"]} == stored
    for f in ev["files"]:  # the evidence bytes themselves, as stored
        assert f["path"] == f"cases/{ref}/evidence/{evidence_id}/{f['name']}"
        assert hashlib.sha256(files[f["path"]]).hexdigest() == f["sha256"]
        assert files[f["path"]] == runtime.blobs.read(f["sha256"])
    assert any(e["action"] == "case.create" and "own_case" in e["reasons"] for e in doc["audit_events"])

    (SHOTS / "subject-access.pdf").write_bytes(files["indsigt.pdf"])  # looked at: the Danish summary
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(files["indsigt.pdf"])).pages)
    flat = " ".join(text.split())
    assert "Indsigt efter databeskyttelsesforordningens artikel 15" in flat
    assert ref in "".join(text.split())  # the table cell may wrap the case number
    for words in ("Mette Jensen", "Formål", "Dine rettigheder", "artikel 15, stk. 4",
                  "Lukkede sager slettes 5 år efter lukning"):
        assert words in flat, words

    with runtime.Session() as s:
        [event] = s.execute(select(AuditEvent).where(AuditEvent.action == "subject.export")).scalars()
    assert (event.actor_id, event.object_type, event.object_id) == (ids["hr"], "user", str(ids["mette"]))
    assert event.details["sha256"] == package_sha and event.details["via"] == "cli"
    with runtime.Session() as s:
        [handed] = s.execute(select(AuditEvent).where(AuditEvent.action == "case.subject_export")).scalars()
    assert (handed.case_id, handed.details["subject"], handed.details["sha256"]) == (case_id, ids["mette"], package_sha)

    again = vaern("subject", "export", "--email", "mette@kommune.dk", "--out", str(out),
                  data_dir=runtime.settings.data_dir, **env)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    nobody = vaern("subject", "export", "--email", "nobody@kommune.dk", "--out", str(tmp_path / "x.zip"),
                   data_dir=runtime.settings.data_dir, **env)
    assert (nobody.returncode, said(nobody.stderr)) == (2, ["vaern: no user 'nobody@kommune.dk'"])
    not_hr = vaern("subject", "export", "--email", "mette@kommune.dk", "--out", str(tmp_path / "y.zip"),
                   "--as", "mette@kommune.dk", data_dir=runtime.settings.data_dir, **env)
    assert not_hr.returncode == 2 and not (tmp_path / "y.zip").exists()
