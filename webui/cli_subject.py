"""`vaern subject …` (issue 16.4): the data subject's rights — access (art. 15) and erasure (art. 17).

The commands live in their own modules beside this group: `cli_subject_export.py` (access) and
`cli_subject_erasure.py` (erasure and an offender's own access request).
"""
from __future__ import annotations

from webui.cli import main


@main.group()
def subject() -> None:
    """The data subject's rights under GDPR: access (art. 15) and erasure (art. 17)."""


# the commands register themselves on the group when imported
from webui import cli_subject_erasure  # noqa: E402,F401
from webui import cli_subject_export  # noqa: E402,F401
