"""Workflow rules: the admin's builder, run history and dry run."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("workflows", __name__)
