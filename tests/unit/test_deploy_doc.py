"""docs/deploy.md lists every setting Værn reads, so an operator never has to read the code to find one."""
from pathlib import Path

from tracker.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def test_the_deployment_guide_names_every_setting():
    text = DOC.read_text(encoding="utf-8")
    missing = [f"VAERN_{name.upper()}" for name in Settings.model_fields if f"`VAERN_{name.upper()}`" not in text]
    assert missing == [], "add them to the table in docs/deploy.md, section 10"
