"""Uploaded evidence through the report form, and trusted timestamps through a TSA outage and back.

Real parts only: the Flask app over a real Runtime (SQLite, blob store, huey on SQLite with a real
consumer), the real Capturer on the fixture site, and a local RFC 3161 TSA run by `openssl ts`.
"""
from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from storage.models import Artifact, AuditEvent, Case, Evidence, EvidenceState, Role
from tests.support.fixture_site import FixtureSite
from tests.support.factories import evidence_row, make_case, make_unit, make_user, png_bytes, running_consumer, wait_until
from tests.support.flows import employee, logged_in_client, openssl_verify, shown_image
from tests.support.tsa import LocalTSA
from tracker.cases.evidence import retry_timestamps, run_capture_job

FINGERPRINT = re.compile(r"[0-9a-f]{64}")

EML = (
    "From: Anonym Borger <anon123@example.net>\r\n"
    "To: =?UTF-8?Q?S=C3=B8ren_S=C3=B8rensen?= <soren@aarhus.dk>\r\n"
    "Subject: =?UTF-8?Q?Vi_ved_hvor_du_bor?=\r\n"
    "Date: Fri, 20 Nov 2026 21:14:03 +0100\r\n"
    "Message-ID: <20261120211403.1234@example.net>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Du skal passe p\u00e5, sagsbehandler. Vi ved hvor du bor.\r\n"
    "<script>alert('xss')</script>\r\n"
).encode()


def count(rt, model, *where) -> int:
    with rt.Session() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


# -- uploads through the report form ----------------------------------------------------------------
@pytest.mark.parametrize("filename, data, original, image", [
    ("skærmbillede.png", png_bytes(160, 90, (200, 30, 30)), "original.png", "original.png"),
    ("trussel.eml", EML, "original.eml", None),  # no picture of an e-mail: its text is shown instead
], ids=["png", "eml"])
def test_an_uploaded_file_opens_a_case_is_secured_and_shown_with_its_fingerprint(make_runtime, filename, data,
                                                                                   original, image):
    rt = make_runtime()
    client = logged_in_client(rt, employee(rt))

    resp = client.post("/report", data={"description": "Han sendte det her i nat.",
                                        "upload": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    ref = re.fullmatch(r"/cases/(V-\d{4}-\d{5})", resp.headers["Location"]).group(1)
    with rt.Session() as s:
        [ev_id] = s.execute(select(Evidence.id).join(Case).where(Case.ref == ref)).scalars()
    queued = evidence_row(rt, ev_id)
    assert queued.kind == "upload" and queued.original_filename == filename
    assert queued.upload_sha256 == hashlib.sha256(data).hexdigest()
    assert rt.blobs.read(queued.upload_sha256) == data  # durable before the job runs

    with running_consumer(rt.huey, workers=1):
        ev = wait_until(lambda: (e := evidence_row(rt, ev_id)).state not in ("queued", "running") and e,
                        timeout=30, message="the upload job to finish")
    assert ev.state is EvidenceState.done, ev.error
    assert ev.capture_status == "ok" and ev.attempts == 1
    assert FINGERPRINT.fullmatch(ev.fingerprint) and ev.fingerprint == ev.manifest_sha256
    arts = {a.name: a for a in ev.artifacts}
    assert arts[original].role == "original"
    assert rt.blobs.read(arts[original].sha256) == data  # the original, bytes unchanged
    assert hashlib.sha256(rt.blobs.read(arts["manifest.json"].sha256)).hexdigest() == ev.fingerprint

    page = client.get(f"/cases/{ref}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ev.fingerprint in html
    assert "sikret" in html
    assert f"/cases/{ref}/evidence/{ev_id}/{original}" in html
    if image is not None:
        src = shown_image(html)
        assert src == f"/cases/{ref}/evidence/{ev_id}/{image}"
        assert f'src="{src}" alt="Det uploadede billede"' in html  # not "a screenshot of the captured post"
        shot = client.get(src)
        assert shot.status_code == 200 and shot.mimetype == "image/png"
        assert shot.data == rt.blobs.read(arts[image].sha256)
        assert shot.headers["X-Evidence-SHA256"] == arts[image].sha256
    else:
        assert "vi ved hvor du bor" in rt.blobs.read(arts["text.txt"].sha256).decode().lower()
        assert '<pre class="captured-text">' in html and "vi ved hvor du bor" in html.lower()
        shown = html.split('<pre class="captured-text">', 1)[1].split("</pre>", 1)[0]
        assert "<script>" not in shown and "&lt;script&gt;" in shown  # captured text is never live HTML
    download = client.get(f"/cases/{ref}/evidence/{ev_id}/{original}")
    assert download.status_code == 200 and download.data == data


def test_a_zip_upload_is_turned_away_on_the_form_in_danish_and_nothing_is_created(make_runtime):
    rt = make_runtime()
    client = logged_in_client(rt, employee(rt))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("skærmbillede.png", png_bytes())

    resp = client.post("/report", data={"description": "Se vedhæftede", "upload": (io.BytesIO(buf.getvalue()),
                                                                                   "bilag.zip")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert re.search(r'<p class="error" id="upload-error">Værn kan ikke læse denne filtype\.', html)
    assert "Ret de markerede felter. Intet er gemt endnu." in html
    assert count(rt, Case) == 0 and count(rt, Evidence) == 0
    blob_dir = rt.settings.resolved_blob_dir
    assert not blob_dir.exists() or not [p for p in blob_dir.rglob("*") if p.is_file()]
    assert rt.huey.pending_count() == 0


# -- timestamps: outage, recovery, and the normal case -------------------------------------------------
@pytest.fixture(scope="module")
def site():
    with FixtureSite() as s:
        yield s


@pytest.fixture
def tsa(tmp_path):
    with LocalTSA(tmp_path) as t:
        yield t


def url_evidence(rt, site) -> tuple[str, int, str]:
    """A case for the fixture site's plain post as a fresh employee: (ref, evidence id, employee e-mail)."""
    with rt.transaction() as s:
        user = make_user(s, Role.employee, make_unit(s))
        case = make_case(s, user, url=site.url("/plain_post.html"))
        return case.ref, case.evidence[0].id, user.email


def stored_blob(rt, ev, name: str) -> bytes:
    return rt.blobs.read(next(a.sha256 for a in ev.artifacts if a.name == name))


@pytest.mark.browser
def test_a_capture_during_a_tsa_outage_is_timestamped_later_with_the_same_fingerprint(make_runtime, site, tsa,
                                                                                      tmp_path):
    rt = make_runtime(tsa_url=tsa.url, tsa_ca_file=tsa.ca_file, capture_allowed_hosts=f"127.0.0.1:{site.port}")
    ref, ev_id, email = url_evidence(rt, site)
    tsa.outage = 503

    assert run_capture_job(rt, ev_id) == "done"
    ev = evidence_row(rt, ev_id)
    assert ev.state is EvidenceState.done and ev.capture_status == "ok"
    assert ev.timestamp_sha256 is None and ev.timestamp_gen_time is None
    assert "503" in ev.timestamp_error
    assert "manifest.tsr" not in {a.name for a in ev.artifacts}
    assert tsa.queries >= 1
    fingerprint, manifest_sha = ev.fingerprint, ev.manifest_sha256

    client = logged_in_client(rt, email)
    html = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert "ikke tidsstemplet" in html and "Betroet tidsstempel" not in html

    assert retry_timestamps(rt) == 0  # still down: nothing changes, the reason is kept
    assert "503" in evidence_row(rt, ev_id).timestamp_error

    tsa.outage = None
    assert retry_timestamps(rt) == 1
    ev = evidence_row(rt, ev_id)
    assert ev.timestamp_sha256 is not None and ev.timestamp_gen_time is not None
    assert ev.timestamp_error is None
    assert (ev.fingerprint, ev.manifest_sha256) == (fingerprint, manifest_sha)
    [tsr_art] = [a for a in ev.artifacts if a.name == "manifest.tsr"]
    assert tsr_art.role == "timestamp" and tsr_art.sha256 == ev.timestamp_sha256
    assert tsr_art.size == len(rt.blobs.read(ev.timestamp_sha256))
    with rt.Session() as s:
        [event] = s.execute(select(AuditEvent).where(AuditEvent.action == "evidence.timestamped")).scalars()
        assert event.object_id == str(ev_id) and event.details["late"] is True
        assert event.details["tsa"] == tsa.url
    assert count(rt, Artifact, Artifact.evidence_id == ev_id, Artifact.name == "manifest.tsr") == 1
    [chain_art] = [a for a in ev.artifacts if a.name == "manifest.tsa-chain.pem"]  # stored with the late token too
    from cryptography import x509
    with open(tsa.ca_file, "rb") as fh:
        assert [c.subject for c in x509.load_pem_x509_certificates(rt.blobs.read(chain_art.sha256))] == \
            [c.subject for c in x509.load_pem_x509_certificates(fh.read())]
    assert chain_art.role == "timestamp_chain"
    assert retry_timestamps(rt) == 0  # nothing left to do

    manifest = stored_blob(rt, ev, "manifest.json")
    assert hashlib.sha256(manifest).hexdigest() == fingerprint
    result = openssl_verify(manifest, rt.blobs.read(ev.timestamp_sha256), tsa, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout

    html = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert "Betroet tidsstempel" in html and "ikke tidsstemplet" not in html


@pytest.mark.browser
def test_with_the_tsa_up_a_capture_is_timestamped_at_once(make_runtime, site, tsa, tmp_path):
    rt = make_runtime(tsa_url=tsa.url, tsa_ca_file=tsa.ca_file, capture_allowed_hosts=f"127.0.0.1:{site.port}")
    _, ev_id, _ = url_evidence(rt, site)

    assert run_capture_job(rt, ev_id) == "done"
    ev = evidence_row(rt, ev_id)
    assert ev.state is EvidenceState.done and ev.capture_status == "ok"
    assert ev.timestamp_error is None
    assert ev.timestamp_sha256 is not None and ev.timestamp_gen_time is not None
    [tsr_art] = [a for a in ev.artifacts if a.name == "manifest.tsr"]
    assert tsr_art.sha256 == ev.timestamp_sha256
    assert retry_timestamps(rt) == 0
    assert count(rt, AuditEvent, AuditEvent.action == "evidence.timestamped") == 0
    assert count(rt, AuditEvent, AuditEvent.action == "evidence.captured") == 1

    manifest = stored_blob(rt, ev, "manifest.json")
    assert hashlib.sha256(manifest).hexdigest() == ev.fingerprint
    result = openssl_verify(manifest, rt.blobs.read(ev.timestamp_sha256), tsa, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout
