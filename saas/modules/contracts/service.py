"""Contract numbers and renewal reminders; licence keys. Flushes, never commits."""

from __future__ import annotations

import secrets

from saas.db import session

KEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_licence_key() -> str:
    """A random key in five groups of five, like ``7KQ2M-…``."""
    chars = "".join(secrets.choice(KEY_ALPHABET) for _ in range(25))
    return "-".join(chars[i : i + 5] for i in range(0, 25, 5))


def licence_before_write(licence, values: dict, is_new: bool) -> None:
    if is_new and not licence.key:
        values["key"] = new_licence_key()


def contract_after_write(contract, changes: dict, is_new: bool) -> None:
    if is_new and not contract.number:
        contract.number = f"C-{contract.id:05d}"
        session().flush()
