"""Workflow rules: importing the package registers the engine (the write listener and
the cached rule loader); see ``engine``."""

from saas.modules.workflows import engine  # noqa: F401
