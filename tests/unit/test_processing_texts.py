"""The texts of the record of processing (GDPR art. 30, issue 16.5) as a rule file: the shipped file loads, a bad
copy is refused with one line naming the file, the entry and the field, the municipality's copy is in force, and
its [[confirmed]] entries take the "Skal bekræftes" mark off exactly the statements they name."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.support.factories import make_settings
from tracker.accounts.rule_files import RuleFileError, rule_file, validate_rule_file
from tracker.privacy.processing_record import CONFIRM, build_record
from tracker.workflow.platforms import shipped_directory
from tracker.workflow.processing_texts import (CONFIRMABLE, DEFAULT_PATH, ProcessingRecordError, load_texts,
                                               processing_texts_in_force)
from tracker.workflow.redress import shipped
from tracker.workflow.retention import load_retention_rules
from tracker.workflow.rules import load_rules

SHIPPED = DEFAULT_PATH.read_text(encoding="utf-8")
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
BACKUPS = ('\n[[confirmed]]\nstatement = "backups"\ntext = "Databasen kopieres hver nat til kommunens '
           'backupsystem; gendannelse prøves hvert år i marts."\nconfirmed_by = "IT-driften, 1.12.2026"\n')


def _write(folder, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "processing_record.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _record(settings, texts):
    return build_record(settings, load_rules(), shipped_directory(), load_retention_rules(), shipped(), texts=texts,
                        now=NOW)


@pytest.mark.parametrize("old, new, where", [
    ('title = "Politiet"\ntext = ', 'title = "Politiet"\ntekst = ', "recipient 'Politiet', field 'text': Field required"),
    ('title = "Datatilsynet"\ntext = "Klage', 'title = "Datatilsynet"\ntext = 3\nx = "Klage',
     "recipient 'Datatilsynet', field 'text': Input should be a valid string"),
    ('letter = "c"\nheading_da = "Kategorier af registrerede og af personoplysninger"\n', 'letter = "c"\n',
     "section 'c', field 'heading_da': Field required"),
    ('role = "amr"', 'role = "tillidsrepræsentant"', "role 'tillidsrepræsentant', field 'role': Input should be"),
    ('checked = "Ikke slået op; nævnt som mulige grundlag, ikke som en vurdering."\n', '',
     "purpose 'Behandlingsgrundlag', field 'sources.checked': Field required"),
    ('[[record.sources]]', '[[record.kilder]]', "record, field 'kilder': Extra inputs are not permitted"),
    (BACKUPS[1:], BACKUPS[1:].replace('"backups"', '"backup"'), "confirmed 'backup', field 'statement': Input should"),
    (BACKUPS[1:], BACKUPS[1:] + BACKUPS, "confirmed 'backups', field 'statement': confirmed twice"),
    (BACKUPS[1:], BACKUPS[1:].replace('confirmed_by = "IT-driften, 1.12.2026"\n', ''),
     "confirmed 'backups', field 'confirmed_by': Field required"),
])
def test_a_bad_copy_is_refused_with_one_line_naming_the_entry_and_the_field(tmp_path, old, new, where):
    text = SHIPPED + BACKUPS if old.startswith("[[confirmed]]") else SHIPPED
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ProcessingRecordError) as refused:
        load_texts(path)
    message = refused.value.message
    assert message.startswith(f"{path}: {where}"), message
    assert "\n" not in message


def test_the_legal_sources_must_be_there(tmp_path):
    record_source = SHIPPED[SHIPPED.index("\n[[record.sources]]"):SHIPPED.index("\n[[section]]")]
    with pytest.raises(ProcessingRecordError, match="record, field 'sources': the record needs its legal source"):
        load_texts(_write(tmp_path, SHIPPED.replace(record_source, "")))
    no_purpose_sources = "\n\n".join(b for b in SHIPPED.split("\n\n") if not b.startswith("[[purpose.sources]]"))
    with pytest.raises(ProcessingRecordError, match="purpose, field 'sources': no purpose names a legal source"):
        load_texts(_write(tmp_path, no_purpose_sources))
    with pytest.raises(ProcessingRecordError, match="unknown top-level key 'formaal'"):
        load_texts(_write(tmp_path, 'formaal = "x"\n' + SHIPPED))


def test_every_confirmable_statement_is_one_the_record_can_mark(tmp_path):
    """The keys a [[confirmed]] entry may name are exactly those of the statements Værn marks, in some setup."""
    setups = [make_settings(tmp_path / "plain"),
              make_settings(tmp_path / "all", oidc_issuer="https://login.example/v2.0", oidc_client_id="vaern",
                            blob_url="s3://vaern-evidence/prod", database_url="postgresql+psycopg://vaern@db/vaern",
                            s3_object_lock_days=1900,                             smtp_host="smtp.kommune.dk",
                            tsa_url="https://freetsa.example/tsr")]
    marked = {e.key for st in setups for s in _record(st, load_texts()).sections for e in s.entries
              if e.confirm and e.key}
    assert marked == set(CONFIRMABLE)


def test_a_confirmation_replaces_the_mark_with_the_municipalitys_words(tmp_path):
    settings = make_settings(tmp_path)
    before = _record(settings, load_texts())
    assert processing_texts_in_force(tmp_path / "rules") == load_texts()
    _write(tmp_path / "rules", SHIPPED + BACKUPS)
    after = _record(settings, processing_texts_in_force(tmp_path / "rules"))
    backups = next(e for e in after.sections[-1].entries if e.title == "Sikkerhedskopier")
    assert backups.confirm is None
    assert backups.details[-1] == ("Kommunens bekræftelse (IT-driften, 1.12.2026): Databasen kopieres hver nat til "
                                   "kommunens backupsystem; gendannelse prøves hvert år i marts.")
    assert backups.origin.endswith("processing_record.toml (kommunens bekræftelse)")
    assert after.to_confirm == before.to_confirm - 1
    assert all(e.confirm.startswith(CONFIRM) for s in after.sections for e in s.entries if e.confirm)


def test_the_copy_is_checked_like_the_other_rule_files_and_errors_name_the_file_not_a_temporary_path(tmp_path):
    file = rule_file("processing-record")
    assert file.name == "processing_record.toml" and file.shipped == DEFAULT_PATH
    validate_rule_file(tmp_path, file, SHIPPED + BACKUPS)
    with pytest.raises(RuleFileError) as refused:
        validate_rule_file(tmp_path, file, SHIPPED.replace('role = "admin"', 'role = "hr"'))
    assert refused.value.message == "processing_record.toml: role, field 'role': no text for the role 'admin'"
