"""Reports and pages say the same Danish word for a code: both read one Babel catalogue with the same msgids."""
import pytest

from storage.models import Role, StepState
from tracker.cases.lifecycle import CATEGORIES
from tracker.packaging import reports, vocabulary
from webui import cases, labels, workflow


def msgid(lazy) -> str:
    """The msgid a flask_babel lazy string was made from."""
    return lazy._args[0]


@pytest.mark.parametrize(("ours", "pages"), [
    (vocabulary.CATEGORIES, labels.CATEGORY_LABELS),
    (vocabulary.PERSON_ROLES, {role.value: label for role, label in labels.PERSON_ROLE_LABELS.items()}),
    (vocabulary.STEP_STATES, workflow.STEP_STATES),
    (vocabulary.DEADLINE_STATES, workflow.DEADLINE_STATES),
    (vocabulary.ARTIFACT_ROLES, cases.ROLE_LABELS),
    (vocabulary.AUDIT_ACTIONS, workflow.ACTIONS),
], ids=["categories", "roles", "step states", "deadline states", "artifacts", "audit actions"])
def test_the_report_names_each_code_with_the_pages_msgid(ours, pages):
    assert {code: msgid(label) for code, label in pages.items()} == ours


def test_the_tables_cover_every_code():
    assert set(vocabulary.CATEGORIES) == set(CATEGORIES)
    assert set(vocabulary.PERSON_ROLES) == {r.value for r in Role}
    assert set(vocabulary.STEP_STATES) == {s.value for s in StepState}


@pytest.mark.parametrize("table", [vocabulary.CATEGORIES, vocabulary.PERSON_ROLES, vocabulary.STEP_STATES,
                                   vocabulary.DEADLINE_STATES, vocabulary.ARTIFACT_ROLES, vocabulary.AUDIT_ACTIONS,
                                   vocabulary.CAPTURE_STATUS_NAMES, vocabulary.CAPTURE_STATUS_TEXTS,
                                   {"upload": vocabulary.UPLOAD_OK_TEXT, "cover": vocabulary.OK_COVER_UNKNOWN_TEXT,
                                    "photo": vocabulary.PHOTO_REQUEST, "profile": vocabulary.PROFILE_USED,
                                    "profile_out": vocabulary.PROFILE_LOGGED_OUT}])
def test_every_msgid_has_a_danish_word_in_the_catalogue(table):
    catalogue = vocabulary.catalogue()
    for code, english in table.items():
        assert catalogue._catalog.get(english), f"{code}: {english!r} is not translated in the catalogue"


def test_the_report_reads_the_danish_words_from_the_catalogue():
    assert vocabulary.danish(vocabulary.CATEGORIES, "digital_threat") == "Digital trussel"
    assert vocabulary.danish(vocabulary.STEP_STATES, "todo") == "Ikke startet"
    assert vocabulary.danish(vocabulary.DEADLINE_STATES, "unknown_start") == "Starttidspunkt ukendt"
    assert vocabulary.danish(vocabulary.PERSON_ROLES, "amr") == "Arbejdsmiljørepræsentant"
    assert vocabulary.danish(vocabulary.CATEGORIES, None) is None
    assert vocabulary.danish(vocabulary.STEP_STATES, "unheard_of", "unheard_of") == "unheard_of"


def test_reports_keep_no_table_of_their_own_for_these_codes():
    for name in ("CATEGORY_LABELS", "ROLE_LABELS", "STEP_STATES", "DEADLINE_STATES", "STATUS_TEXT", "STATUS_NAMES",
                 "ARTIFACT_LABELS", "ACTION_LABELS", "UPLOAD_STATUS_TEXT", "OK_COVER_UNKNOWN_TEXT", "PHOTO_REQUEST"):
        assert not hasattr(reports, name), name


def test_every_capture_status_has_a_name_and_a_text_in_the_report():
    """The statuses capture/ can give (its judge) all have a word and an explanation, in Danish."""
    from capture.judge import STATUSES

    assert set(vocabulary.CAPTURE_STATUS_NAMES) == set(STATUSES) == set(vocabulary.CAPTURE_STATUS_TEXTS)
    assert vocabulary.danish(vocabulary.CAPTURE_STATUS_NAMES, "login_wall") == "Login-væg"
    assert vocabulary.danish_text(vocabulary.PROFILE_USED) % {"who": "kommunen@x", "name": "fb"} \
        == "Sikret logget ind som kommunen@x."
