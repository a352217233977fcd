"""Pages of the leads module beyond the generic record pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("leads", __name__)
