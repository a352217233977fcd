"""Password hashing (argon2id) and the password policy, used by every form."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _

_hasher = PasswordHasher()

MIN_LENGTH = 10
COMMON = {
    "password", "password1", "password123", "passw0rd", "qwerty", "qwertyuiop", "letmein",
    "iloveyou", "welcome", "welcome1", "admin", "administrator", "123456", "12345678",
    "123456789", "1234567890", "abc123", "monkey", "dragon", "football", "baseball",
    "sunshine", "princess", "trustno1", "changeme", "secret", "superman",
}  # fmt: skip


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, *context: str) -> str | None:
    """Why ``password`` is too weak, as a sentence, or None if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _("Use at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > 200:
        return _("Use at most %(max)d characters.", max=200)
    lowered = password.lower()
    if lowered in COMMON or lowered.rstrip("0123456789!") in COMMON:
        return _("This password is too common; choose one that is hard to guess.")
    if len(set(password)) < 5:
        return _("Use more different characters; repeated patterns are easy to guess.")
    for word in context:
        word = (word or "").lower().split("@")[0]
        if len(word) >= 4 and word in lowered:
            return _("Do not use your name, e-mail or company name in the password.")
    return None
