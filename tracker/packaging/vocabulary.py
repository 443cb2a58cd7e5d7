"""The words a report uses for codes the pages name too, taken from the pages' own Babel catalogue.

One vocabulary: the msgids below are the ones webui marks for translation (webui/labels.py: categories and
roles; webui/workflow.py: step and deadline states), and their Danish comes from the catalogue webui
compiles (webui/translations/da/LC_MESSAGES/messages.mo), read with Babel — not Flask — so a report and
a page cannot call the same code two things. tests/test_report_vocabulary.py holds both lists together.
The catalogue is data beside the webui package (installed with it); tracker imports no webui code.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import Translations

CATALOGUE = Path(__file__).resolve().parents[2] / "webui" / "translations"
LOCALE = "da"

#: case categories (tracker.cases.lifecycle.CATEGORIES)
CATEGORIES = {"digital_threat": "Digital threat", "digital_bullying": "Digital bullying",
              "digital_harassment": "Digital harassment"}
#: people's roles (storage.models.Role values)
PERSON_ROLES = {"employee": "Employee", "leader": "Leader", "hr": "HR", "amr": "Work-environment representative",
                "admin": "Administrator"}
#: checklist step states (storage.models.StepState values)
STEP_STATES = {"todo": "Not started", "in_progress": "In progress", "done": "Done", "skipped": "Skipped",
               "not_applicable": "Not applicable"}
#: deadline states (tracker.workflow.deadlines)
DEADLINE_STATES = {"overdue": "Overdue", "at_risk": "Due soon", "open": "Running", "met": "Met",
                   "unknown_start": "Start unknown", "closed": "Closed"}


@lru_cache(maxsize=1)
def catalogue() -> Translations:
    """The Danish catalogue; FileNotFoundError if it is missing (a report never falls back to English)."""
    mo = CATALOGUE / LOCALE / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as fh:
        return Translations(fh, domain="messages")


def danish(table: dict[str, str], code: str | None, default: str | None = None) -> str | None:
    """The Danish word for ``code`` in ``table`` (one of the tables above); ``default`` for an unknown code."""
    msgid = table.get(code or "")
    return catalogue().gettext(msgid) if msgid is not None else default
