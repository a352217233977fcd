"""Custom fields: the admin's pages to add, change, reorder and delete them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("customization", __name__)
