"""The `vaern export` and `vaern verify-package` commands."""
from __future__ import annotations

from webui.cli import main  # noqa: F401 - commands are added to this group
