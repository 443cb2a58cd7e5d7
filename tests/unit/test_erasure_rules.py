"""The exceptions to erasure (GDPR art. 17(3), issue 16.4): the shipped file loads with a source for every
exception, a bad copy is refused with one line naming the file, the exception and the field, and the
municipality's copy is the one in force."""
from __future__ import annotations

import pytest

from tracker.accounts.rule_files import RuleFileError, rule_file, validate_rule_file
from tracker.workflow.erasure import DEFAULT_PATH, ErasureException, ErasureRulesError, erasure_in_force, load_exceptions

SHIPPED = DEFAULT_PATH.read_text(encoding="utf-8")


def _write(folder, text: str):
    path = folder / "erasure.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_exception_has_an_article_and_a_source():
    exceptions = load_exceptions()
    assert set(exceptions) == {"legal_hold", "open_case", "retention", "case_record", "audit_trail", "journal"}
    assert all(e.article.startswith("art.") and e.sources for e in exceptions.values())


@pytest.mark.parametrize("old, new, entry, field, problem", [
    ('article = "art. 17, stk. 3, litra e"\n', '', "exception 'legal_hold'", "article", "Field required"),
    ('id = "open_case"\napplies_to = "open_case"', 'id = "open_case"\napplies_to = "legal_hold"',
     "exception 'open_case'", "applies_to", "'legal_hold' is listed twice"),
    ('id = "open_case"\napplies_to = "open_case"', 'id = "legal_hold"\napplies_to = "open_case"',
     "exception 'legal_hold'", "id", "'legal_hold' is listed twice"),
    ('applies_to = "journal"', 'applies_to = "journals"', "exception 'journal'", "applies_to", "Input should be"),
    ('verified = false', 'verified = "nej"', "exception 'legal_hold'", "sources.verified", "valid boolean"),
])
def test_a_bad_exception_is_refused_naming_the_file_the_exception_and_the_field(tmp_path, old, new, entry, field,
                                                                                problem):
    assert old in SHIPPED
    path = _write(tmp_path, SHIPPED.replace(old, new, 1))
    with pytest.raises(ErasureRulesError) as refused:
        load_exceptions(path)
    message = refused.value.message
    assert message.startswith(f"{path}: {entry}, field {field!r}: ") and problem in message, message
    assert "\n" not in message


def test_an_exception_without_sources_or_a_missing_kind_is_refused(tmp_path):
    one = ('[[exception]]\nid = "x"\napplies_to = "legal_hold"\narticle = "art. 17"\nlabel_da = "abc"\n'
           'note_da = "abc"\nsources = []\n')
    with pytest.raises(ErasureRulesError, match="exception 'x', field 'sources': an exception needs at least one"):
        load_exceptions(_write(tmp_path, one))
    head, _, _ = SHIPPED.partition('[[exception]]\nid = "journal"')
    with pytest.raises(ErasureRulesError, match="field 'applies_to': no exception for 'journal'"):
        load_exceptions(_write(tmp_path, head))


def test_the_municipalitys_copy_is_in_force_and_is_checked_like_the_other_rule_files(tmp_path):
    assert erasure_in_force(tmp_path)["journal"].label_da == load_exceptions()["journal"].label_da
    old = 'applies_to = "journal"\narticle = "art. 17, stk. 3, litra b"'
    assert old in SHIPPED
    _write(tmp_path, SHIPPED.replace(old, 'applies_to = "journal"\narticle = "art. 17, stk. 1 (kommunens ESDH)"'))
    assert erasure_in_force(tmp_path)["journal"].article == "art. 17, stk. 1 (kommunens ESDH)"
    file = rule_file("erasure")
    assert file.name == "erasure.toml" and file.shipped == DEFAULT_PATH
    validate_rule_file(tmp_path / "none", file, SHIPPED)
    with pytest.raises(RuleFileError) as refused:
        validate_rule_file(tmp_path / "none", file, SHIPPED.replace('applies_to = "journal"', "", 1))
    assert refused.value.message == "erasure.toml: exception 'journal', field 'applies_to': Field required"


def test_the_shipped_exceptions_read_in_english_and_an_exception_without_english_reads_in_danish():
    for exc in load_exceptions().values():
        assert exc.label("en") == exc.label_en and exc.note("en") == exc.note_en
        assert exc.cited("en").startswith("Art. 17(") and "stk." not in exc.cited("en")
        assert (exc.label("da"), exc.note("da"), exc.cited("da")) == (exc.label_da, exc.note_da, exc.article)
    only_danish = ErasureException(id="x", applies_to="journal", article="art. 17, stk. 3, litra b",
                                   label_da="Kun dansk", note_da="Kun dansk note", sources=())
    assert (only_danish.label("en"), only_danish.note("en"), only_danish.cited("en")) == (
        "Kun dansk", "Kun dansk note", "art. 17, stk. 3, litra b")
