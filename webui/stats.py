"""Statistics for MED: charts, CSV and the next evaluation dates."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("stats", __name__)
