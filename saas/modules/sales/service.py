"""Quotes and orders: numbers and totals. Flushes, never commits."""

from __future__ import annotations

from saas.db import session


def numbered(prefix: str):
    """An after-write hook giving a new document the number ``<prefix>-00042``."""

    def after_write(doc, changes: dict, is_new: bool) -> None:
        if is_new and not doc.number:
            doc.number = f"{prefix}-{doc.id:05d}"
            session().flush()

    return after_write
