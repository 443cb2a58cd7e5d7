"""Evidence reports (PDF) and case export packages (ZIP), downloaded with permission and audited."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exports", __name__)
