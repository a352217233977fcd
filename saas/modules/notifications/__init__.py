"""Notifications: the bell, per-user preferences, e-mails and the daily digest.

Importing the package registers its record listeners (assignments, @mentions, transfers).
"""

from saas.modules.notifications import triggers  # noqa: F401
