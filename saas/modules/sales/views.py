"""Pages of the sales module beyond the generic record pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sales", __name__)
