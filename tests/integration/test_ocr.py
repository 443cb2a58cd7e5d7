"""Text in an uploaded picture is read by Tesseract (Danish and English), kept as a machine-read artifact in the
upload's manifest, searchable by HR and shown as an excerpt; bounded in pixels and time, never failing the upload."""
from __future__ import annotations

import io
import json
import shutil

import pytest
from PIL import Image, ImageDraw, ImageFont

from capture.ocr import read_text
from capture.options import CaptureOptions
from capture.upload import capture_upload
from storage.models import Evidence
from tests.support.factories import csrf_login, make_settings, make_unit, make_user
from tests.support.database import new_runtime
from tests.support.environment import sans_font
from tracker.cases.register import Report, open_case
from tracker.cases.evidence import run_capture_job
from tracker.packaging.reports import evidence_report_html
from webui.app import create_app

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed")


def screenshot_with_text(lines=("Jeg ved hvor du bor, Søren", "Vi ses på Ærøskøbing havn"), size=(1000, 260)) -> bytes:
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(sans_font(), 38)
    for i, line in enumerate(lines):
        draw.text((24, 30 + 80 * i), line, font=font, fill="black")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_an_uploaded_screenshot_gets_its_text_read_as_a_marked_machine_read_artifact():
    bundle = capture_upload(screenshot_with_text(), "skaermbillede.png", CaptureOptions(), "user:1")
    art = bundle.artifact("ocr_text")
    assert art is not None and art.name == "ocr.txt"
    text = art.data.decode("utf-8")
    assert "Søren" in text and "Ærøskøbing" in text  # Danish letters read with the Danish model
    manifest = json.loads(bundle.manifest_bytes)
    ocr = manifest["ocr"]
    assert ocr["machine_read"] is True and ocr["languages"] == "dan+eng" and ocr["engine"].startswith("tesseract")
    assert ocr["chars"] == len(text) and ocr["error"] is None
    assert any(a["name"] == "ocr.txt" for a in manifest["artifacts"]) if "artifacts" in manifest else True
    assert any(a["step"] == "ocr" for a in manifest["actions"])


def test_reading_is_bounded_in_pixels_and_time_and_a_failure_never_fails_the_upload():
    with Image.open(io.BytesIO(screenshot_with_text())) as img:
        text, info = read_text(img, max_pixels=100_000)
        assert info["scaled_to"] is not None and info["scaled_to"][0] * info["scaled_to"][1] <= 100_000
        text, info = read_text(img, timeout=0.001)
        assert text is None and info["error"] and "stopped" in info["error"]
    blank = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(blank, "PNG")
    bundle = capture_upload(blank.getvalue(), "tom.png", CaptureOptions(), "user:1")
    assert bundle.artifact("ocr_text") is None and json.loads(bundle.manifest_bytes)["ocr"]["chars"] == 0


def test_hr_finds_the_case_by_words_in_the_picture_and_the_case_shows_an_excerpt(tmp_path):
    rt = new_runtime(make_settings(tmp_path))
    data = screenshot_with_text(("Borgeren skriver: du skal passe på", "Kontaktcenteret er elendigt"))
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        employee = make_user(s, "employee", unit, name="Mette Jensen", email="mette@kommune.dk")
        make_user(s, "hr", unit, name="Hanne HR", email="hr@kommune.dk")
        case = open_case(s, employee, Report(url=None, episode_at=None, description="Skærmbillede fra Messenger",
                                             upload_sha256=rt.blobs.put(data), upload_filename="messenger.png"))
        ref, ev_id = case.ref, case.evidence[0].id
    assert run_capture_job(rt, ev_id) == "done"
    with rt.Session() as s:
        assert {a.role for a in s.get(Evidence, ev_id).artifacts} >= {"original", "ocr_text"}
        html = evidence_report_html(rt, s, s.get(Evidence, ev_id))
    assert "Tekst læst maskinelt i billedet (OCR; kan indeholde fejl)" in html and "Kontaktcenteret" in html
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    try:
        hr = csrf_login(app, "hr@kommune.dk")
        found = hr.get("/hr/cases?q=kontaktcenteret").get_data(as_text=True)
        assert ref in found
        assert ref not in hr.get("/hr/cases?q=fodboldkamp").get_data(as_text=True)
        page = csrf_login(app, "mette@kommune.dk").get(f"/cases/{ref}").get_data(as_text=True)
        assert "Tekst i billedet, læst maskinelt" in page and "Kontaktcenteret er elendigt" in page
    finally:
        rt.close()
