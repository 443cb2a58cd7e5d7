"""`vaern processing-record --out FILE.pdf|FILE.md` (issue 16.5) as an operator runs it: a real subprocess, the PDF
printed by the real Chromium and read back with pypdf."""
from __future__ import annotations

from pypdf import PdfReader

from tests.support.cli import said, vaern
from tracker.workflow.processing_texts import DEFAULT_PATH

HEADINGS = ("a. Dataansvarlig og databeskyttelsesrådgiver", "b. Formål med behandlingen",
            "c. Kategorier af registrerede og af personoplysninger", "d. Kategorier af modtagere",
            "e. Overførsel til tredjelande", "f. Tidsfrister for sletning",
            "g. Tekniske og organisatoriske sikkerhedsforanstaltninger")


def test_the_operator_writes_the_record_as_pdf_and_markdown(tmp_path):
    data = tmp_path / "data"
    settings = {"controller_name": "Testrup Kommune", "tsa_url": "https://tsa.example/tsr", "secure_cookies": "true"}
    pdf_file = tmp_path / "fortegnelse.pdf"
    done = vaern("processing-record", "--out", str(pdf_file), data_dir=data, **settings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"vaern: record of processing written to {pdf_file} (")
    reader = PdfReader(pdf_file)
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert text.startswith("DATABESKYTTELSESFORORDNINGEN ART. 30, STK. 1 Fortegnelse over behandlingsaktiviteter")
    for heading in HEADINGS:
        assert heading in text, heading
    assert "Dataansvarlig: Testrup Kommune" in text
    assert "VAERN_TSA_URL peger på tsa.example, men VAERN_TSA_CA_FILE er ikke sat" in text  # this process's settings
    assert "Lukkede sager slettes 5 år efter lukning" in text

    md_file = tmp_path / "fortegnelse.md"
    done = vaern("processing-record", "--out", str(md_file), data_dir=data, **settings)
    assert done.returncode == 0, done.stderr
    markdown = md_file.read_text(encoding="utf-8")
    assert all(f"## {h}" in markdown for h in HEADINGS)
    assert "Single sign-on er ikke sat op" in markdown

    refused = vaern("processing-record", "--out", str(tmp_path / "fortegnelse.docx"), data_dir=data)
    assert refused.returncode == 2 and "--out must end in .pdf or .md" in "\n".join(said(refused.stderr))
    assert not (tmp_path / "fortegnelse.docx").exists()


def test_the_municipalitys_copy_is_used_and_a_broken_copy_stops_the_record_and_the_start_with_one_line(tmp_path):
    data = tmp_path / "data"
    (data / "rules").mkdir(parents=True)
    own = DEFAULT_PATH.read_text(encoding="utf-8") + (
        '\n[[confirmed]]\nstatement = "organisational"\ntext = "Brugerne instrueres ved oprettelsen."\n'
        'confirmed_by = "HR, 2.12.2026"\n')
    (data / "rules" / "processing_record.toml").write_text(own, encoding="utf-8")
    md_file = tmp_path / "fortegnelse.md"
    done = vaern("processing-record", "--out", str(md_file), data_dir=data)
    assert done.returncode == 0, done.stderr
    assert "Kommunens bekræftelse (HR, 2.12.2026): Brugerne instrueres ved oprettelsen." in md_file.read_text("utf-8")

    local = data / "rules" / "processing_record.toml"
    local.write_text(own.replace('statement = "organisational"', 'statement = "organisation"'), encoding="utf-8")
    refused = vaern("processing-record", "--out", str(tmp_path / "igen.md"), data_dir=data)
    assert refused.returncode == 2 and not (tmp_path / "igen.md").exists()
    lines = said(refused.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"vaern: {local}: confirmed 'organisation', field 'statement': "
                                                   "Input should be 'joint_controllers', "), lines
    local.unlink()
    (data / "rules" / "erasure.toml").write_text("[[exception]]\nid = 1\n", encoding="utf-8")
    start = vaern("serve", "--port", "1", data_dir=data, timeout=60)
    assert start.returncode == 2
    assert said(start.stderr) == [f"vaern: {data / 'rules' / 'erasure.toml'}: exception #1, field 'id': "
                                  "Input should be a valid string"]
