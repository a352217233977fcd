"""The import's jobs: running an import and undoing one. Both are tracked jobs (see
``saas.tracked``): if Redis loses them or their worker dies, the reconciler enqueues
them again and they carry on from their last committed batch."""

from __future__ import annotations

from flask_babel import gettext as _

from saas import tracked
from saas.jobs import job
from saas.modules.imports import engine, revert


@job(queue="bulk", timeout=6 * 3600, retries=3)
def run_import(import_id: int) -> str:
    """Bring an import's file in (from where it stands)."""
    return engine.run(import_id)


@job(queue="bulk", timeout=6 * 3600, retries=3)
def revert_import(import_id: int) -> str:
    """Undo an import (from where the undoing stands)."""
    return revert.run(import_id)


def give_up(import_id: int, reason: str) -> None:
    """The reconciler tried too often: the import (or its undoing) has failed."""
    imp = engine.locked(import_id)
    if imp is not None and imp.status in {"queued", "running", "reverting"}:
        imp.error = _("The import stopped after several attempts (%(reason)s).", reason=reason)
        engine.finish(imp, "failed")


tracked.kind("import", run_import, give_up=give_up)
tracked.kind("revert", revert_import, give_up=give_up)
