"""The record of processing (GDPR art. 30, issue 16.5): built from the settings and the files in force, it changes
when they change, names each retention rule with its sources, and marks what Værn cannot establish."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from tests.support.factories import make_settings
from tracker.integrity.integrity import anchor_path
from tracker.privacy.processing_record import CONFIRM, ProcessingRecord, build_record
from tracker.packaging.reports import processing_record_html, processing_record_markdown
from tracker.workflow.platforms import shipped_directory
from tracker.workflow.processing_texts import DEFAULT_PATH as DATA_FILE
from tracker.workflow.processing_texts import ProcessingRecordError, load_texts
from tracker.workflow.redress import shipped
from tracker.workflow.retention import DEFAULT_PATH, load_retention_rules
from tracker.workflow.rules import load_rules

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def _record(settings, *, rules=None, retention=None) -> ProcessingRecord:
    return build_record(settings, rules or load_rules(), shipped_directory(), retention or load_retention_rules(),
                        shipped(), now=NOW)


def _section(record: ProcessingRecord, letter: str):
    return next(s for s in record.sections if s.letter == letter)


def _entry(record: ProcessingRecord, letter: str, title_start: str):
    return next(e for e in _section(record, letter).entries if e.title.startswith(title_start))


def test_the_record_has_the_seven_parts_of_article_30_each_statement_saying_where_it_comes_from(tmp_path):
    record = _record(make_settings(tmp_path))
    assert [s.letter for s in record.sections] == list("abcdefg")
    assert [s.legal for s in record.sections][:2] == ["Art. 30, stk. 1, litra a", "Art. 30, stk. 1, litra b"]
    assert all(e.origin for s in record.sections for e in s.entries)
    assert record.title.startswith("Fortegnelse over behandlingsaktiviteter")
    # no controller set: a placeholder to fill in, and the record says it must be confirmed
    controller = _entry(record, "a", "Dataansvarlig")
    assert controller.text == "[UDFYLD: kommunens navn]" and controller.confirm.startswith(CONFIRM)
    assert "VAERN_CONTROLLER_NAME" in controller.confirm
    # criminal-offence data is stated as a possibility, with its article
    crime = _entry(record, "c", "Oplysninger om strafbare forhold")
    assert "art. 10" in crime.title and crime.details == ("Forekommer muligvis, ikke i alle sager.",)
    assert record.to_confirm == sum(1 for s in record.sections for e in s.entries if e.confirm)
    # backups: Værn cannot see whether they are run
    assert _entry(record, "g", "Sikkerhedskopier").confirm.startswith(CONFIRM)


def test_the_controller_comes_from_the_settings(tmp_path):
    record = _record(make_settings(tmp_path, controller_name="Aarhus Kommune", controller_contact="Rådhuspladsen 2",
                                   dpo_contact="DPO, dpo@aarhus.dk"))
    assert record.controller == "Aarhus Kommune"
    a = _section(record, "a").entries
    assert [(e.text, e.confirm) for e in a[:3]] == [("Aarhus Kommune", None), ("Rådhuspladsen 2", None),
                                                    ("DPO, dpo@aarhus.dk", None)]


def test_the_security_measures_follow_the_settings(tmp_path):
    plain = _record(make_settings(tmp_path / "plain"))
    hardened = _record(make_settings(
        tmp_path / "hard", secure_cookies=True, base_url="https://vaern.kommune.dk",
        oidc_issuer="https://login.microsoftonline.com/abc/v2.0", oidc_client_id="vaern", local_login=False,
        database_url="postgresql+psycopg://vaern@db/vaern", blob_url="s3://vaern-evidence/prod",
        s3_object_lock_days=1900, s3_object_lock_mode="GOVERNANCE", tsa_url="https://freetsa.example/tsr",
        tsa_ca_file=tmp_path / "tsa-ca.pem", login_rate_limit="30/hour",
        smtp_host="smtp.kommune.dk", session_idle_hours=2))

    def text(record, title):
        return _entry(record, "g", title).text

    assert "Single sign-on er ikke sat op" in text(plain, "Login")
    assert "login.microsoftonline.com" in text(hardened, "Login") and "slået fra" in text(hardened, "Login")
    assert "roller tildeles af en administrator i Værn" in text(hardened, "Login")  # no role map set
    assert "Secure-cookies og Strict-Transport-Security er slået fra" in text(plain, "Kryptering under transport")
    assert "Strict-Transport-Security" in text(hardened, "Kryptering under transport")
    assert "det ikke er" in _entry(plain, "g", "Kryptering under transport").confirm
    assert "det ikke er" not in _entry(hardened, "g", "Kryptering under transport").confirm
    assert "Ikke sat op" in text(plain, "Betroede tidsstempler")
    assert "Hvert bevis tidsstemples hos freetsa.example" in text(hardened, "Betroede tidsstempler")
    half = _record(make_settings(tmp_path / "half", tsa_url="https://freetsa.example/tsr"))
    assert "VAERN_TSA_CA_FILE er ikke sat" in text(half, "Betroede tidsstempler")  # Værn then sends no request
    assert "Tidsstempeltjeneste (RFC 3161)" not in [e.title for e in _section(half, "d").entries]
    assert text(hardened, "Begrænsning").startswith("Højst 30 pr. time login-forsøg")
    assert text(plain, "Begrænsning").startswith("Højst 1000 pr. minut login-forsøg")
    assert _entry(plain, "g", "Beviser på lokal disk")
    locked = text(hardened, "Beviser i objektlager")
    assert "1900 dage" in locked and "GOVERNANCE" in locked and "BypassGovernanceRetention" in locked
    assert "2 timer" in text(hardened, "Sessioner") and "8 timer" in text(plain, "Sessioner")
    assert "PostgreSQL" in text(hardened, "Kryptering af lagrede data")
    assert "argon2id" in text(plain, "Adgangskoder")
    # the processors and transfers the settings reveal
    hard_d = [e.title for e in _section(hardened, "d").entries]
    assert {"Objektlager for beviser", "Mailserver", "Identitetsudbyder (single sign-on)",
            "Tidsstempeltjeneste (RFC 3161)"} <= set(hard_d)
    assert "Mailserver" not in [e.title for e in _section(plain, "d").entries]
    assert _entry(hardened, "f", "Objektlås på beviser").text.startswith("Hvert bevis i objektlageret låses i 1900")


def test_the_audit_anchors_are_counted_from_the_anchor_file(tmp_path):
    settings = make_settings(tmp_path)
    assert "endnu intet anker" in _entry(_record(settings), "g", "Forankring").text
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    line = {"event_id": 7, "hash": "a" * 64, "count": 7, "anchored_at": "2026-11-30T03:17:00+00:00"}
    anchor_path(settings).write_text(json.dumps(line) + "\n" + json.dumps({**line, "anchored_at":
                                     "2026-12-01T03:17:00+00:00"}) + "\n")
    assert "har 2 anker/ankre; det seneste er fra 01.12.2026" in _entry(_record(settings), "g", "Forankring").text


def test_each_retention_rule_appears_with_its_sources_and_whether_each_was_verified(tmp_path):
    record = _record(make_settings(tmp_path))
    f = {e.title: e for e in _section(record, "f").entries}
    for rule in load_retention_rules().rules:
        entry = f[rule.label_da]
        assert [(s.text, s.verified, s.checked) for s in entry.sources] == \
            [(s.text, s.verified, s.checked) for s in rule.sources]
        assert entry.details[0].startswith(f"Regel {rule.id}: gemmes ")
        verified = sum(s.verified for s in rule.sources)
        assert entry.details[1] == f"{verified} af {len(rule.sources)} kilder er slået op og læst."
        assert entry.origin == "retention.toml (leveret med Værn)"
        assert (entry.confirm is None) == rule.enforced  # a policy Værn does not enforce is the municipality's to keep
    assert "HR eller en administrator" in f["Retligt tilbageholdelse"].text


def test_a_municipalitys_own_retention_file_is_what_the_record_shows(tmp_path):
    own = tmp_path / "rules"
    own.mkdir()
    (own / "retention.toml").write_text(DEFAULT_PATH.read_text(encoding="utf-8").replace(
        'keep_years = 5\nenforced = true\nlabel_da = "Lukkede sager slettes 5 år efter lukning"',
        'keep_years = 7\nenforced = true\nlabel_da = "Lukkede sager slettes 7 år efter lukning"'), encoding="utf-8")
    record = _record(make_settings(tmp_path), retention=load_retention_rules(own / "retention.toml"))
    entry = _entry(record, "f", "Lukkede sager slettes 7 år")
    assert entry.details[0].startswith("Regel closed_case: gemmes 7 år.")
    assert entry.origin == "retention.toml (kommunens egen kopi)"


def test_recipients_come_from_the_steps_in_force(tmp_path):
    rules = load_rules()
    record = _record(make_settings(tmp_path), rules=rules)
    police = _entry(record, "d", "Politiet")
    assert police.details == ("Trin: »Politianmeldelse (lederen tilbyder at tage med)« (response.toml).",)
    platforms = _entry(record, "d", "Platformene")
    assert "Facebook" in platforms.details[1] and "TikTok" in platforms.details[1]
    assert "Appeals Centre Europe" in _entry(record, "d", "Organer for udenretslig").details[1]
    # a municipality that took the injunction off its ladder: the record no longer claims it discloses to courts
    without = replace(rules, steps=tuple(s for s in rules.steps if s.id != "injunction"))
    courts = _entry(_record(make_settings(tmp_path), rules=without), "d", "Domstolene")
    assert courts.details[0].startswith("Trinnet findes ikke i de regler, kommunen bruger nu")
    # transfers to third countries: honestly "depends on the platform"
    transfer = _entry(record, "e", "Anmeldelser til platforme")
    assert "afhænger af platformen" in transfer.text and transfer.confirm.startswith(CONFIRM)


def test_the_markdown_and_the_pdf_html_carry_every_heading(tmp_path):
    record = _record(make_settings(tmp_path, controller_name="Testkommune *A/S*"))
    md = processing_record_markdown(record)
    assert md.startswith("# Fortegnelse over behandlingsaktiviteter")
    for s in record.sections:
        assert f"## {s.letter}. {s.heading} ({s.legal})" in md
    assert "Dataansvarlig: Testkommune \\*A/S\\*." in md  # Markdown characters in a setting are escaped
    assert "> **Skal bekræftes af kommunen." in md
    html = processing_record_html(record)
    assert all(f"{s.letter}. {s.heading}" in html for s in record.sections)
    assert "<script" not in html


def test_a_data_file_without_a_text_for_every_role_is_refused_with_one_line(tmp_path):
    bad = tmp_path / "processing_record.toml"
    text = DATA_FILE.read_text(encoding="utf-8")
    bad.write_text(text.replace('[[role]]\nrole = "admin"', '[[role]]\nrole = "hr"'), encoding="utf-8")
    with pytest.raises(ProcessingRecordError, match="no text for the role 'admin'"):
        load_texts(bad)
    bad.write_text(text.replace('letter = "g"', 'letter = "h"'), encoding="utf-8")
    with pytest.raises(ProcessingRecordError, match="section"):
        load_texts(bad)
