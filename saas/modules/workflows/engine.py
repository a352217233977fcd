"""The rule engine: listens to every record write and runs the rules that match.

Hot path: a write looks up the object's rules for its event in the tenant's
cached, compiled rule set; with none interested it returns at once (no query).
Only a rule that matches (or errs, or is stopped) writes a ``WorkflowRun``.

A rule's actions run in order, each in a savepoint, in the transaction of the
write that triggered it, so a failing action is recorded and never loses that
write. A rule's own updates do not trigger it again; a cascade of rules
triggering rules stops at :data:`MAX_DEPTH`, recorded as a "stopped" run.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.attributes import flag_modified

from saas.db import session
from saas.modules.customization import meta
from saas.modules.records import service as records
from saas.modules.records.fields import FieldError
from saas.modules.records.registry import ObjectType
from saas.modules.workflows.actions import RUN, ActionError, Context
from saas.modules.workflows.matching import Compiled, ObjectRules, RuleSet
from saas.modules.workflows.models import WorkflowRule, WorkflowRun

log = logging.getLogger(__name__)
MAX_DEPTH = 5  # rules triggering rules: the sixth in a chain is stopped
EVENTS = {"created", "updated", "deleted"}

# The rules running right now in this context, outermost first: (id, name).
_stack: ContextVar[tuple[tuple[int, str], ...]] = ContextVar("workflow_stack", default=())


@meta.loader("workflows")
def _load() -> RuleSet:
    """The tenant's active rules in run order, as plain data (compiled on first use)."""
    r = WorkflowRule
    stmt = (
        select(r.id, r.object, r.name, r.position, r.trigger, r.match, r.conditions, r.actions)
        .where(r.active.is_(True))
        .order_by(r.object, r.position, r.id)
    )
    return RuleSet([dict(row._mapping) for row in session().execute(stmt)])


def ruleset() -> RuleSet:
    found = meta.current()
    rules = found.get("workflows") if found is not None else None
    return rules if rules is not None else RuleSet([])


def rules() -> dict[str, ObjectRules]:
    """The current tenant's active rules by object."""
    return ruleset().index()


def on_write(otype: ObjectType, record, event: str, changes: dict, actor: int | None) -> None:
    """``records.service`` listener: run the object's matching rules for this write."""
    if event not in EVENTS:
        return
    found = rules().get(otype.name)
    if found is None:
        return
    candidates = found.for_event(event, changes)
    if candidates:
        run_matching(candidates, otype, record, event, changes)


def _wants(otype: ObjectType, event: str) -> bool:
    found = rules().get(otype.name) if event in EVENTS else None
    if found is None:
        return False
    if event == "updated":
        return bool(found.updated or found.by_field)
    return bool(found.for_event(event, {}))


on_write.wants = _wants
records.listeners.append(on_write)


def run_matching(candidates, otype: ObjectType, record, event: str, changes: dict) -> None:
    stack = _stack.get()
    for rule in candidates:
        if stack and stack[-1][0] == rule.id:
            continue  # the rule's own update
        if rule.matches(record, changes):
            fire(rule, otype, record, event, changes)


def fire(rule: Compiled, otype: ObjectType, record, event: str, changes: dict | None = None):
    """Run a matching rule's actions on ``record`` (or record why it was stopped)."""
    changes = changes or {}
    stack = _stack.get()
    chain = [name for _, name in stack] + [rule.name]
    detail = {"rule": rule.name, "why": rule.explain(record, changes), "actions": []}
    if len(stack) > 0:
        detail["chain"] = chain
    if len(stack) >= MAX_DEPTH:
        detail["error"] = str(
            _l("Stopped: %(n)d rules in a row triggered each other.", n=len(chain))
        )
        log.warning("workflow cascade stopped at rule %s: %s", rule.id, " > ".join(chain))
        return _write_run(rule, otype, record.id, event, "stopped", detail)
    token = _stack.set(stack + ((rule.id, rule.name),))
    try:
        return _execute(rule, otype, record, event, detail)
    finally:
        _stack.reset(token)


def _execute(rule: Compiled, otype: ObjectType, record, event: str, detail: dict) -> WorkflowRun:
    # Written first, so the history lists a cascade in the order it happened.
    run = _write_run(rule, otype, record.id, event, "ok", detail)
    later = []
    changed = False
    for index, action in enumerate(rule.actions):
        kind = action["kind"]
        ctx = Context(rule, otype, record, event, index)
        then = None
        try:
            with session().begin_nested():
                outcome, then = RUN[kind](ctx, action)
        except Exception as exc:  # noqa: BLE001  (any failure is the run's, never the write's)
            outcome = {"error": _message(rule, kind, exc)}
            meta.forget(otype, record)  # the rollback reloads mapped columns; these too
        detail["actions"].append({"kind": kind, **outcome})
        if then is not None:
            later.append(then)
        changed |= bool(outcome.get("changes")) or "task_id" in outcome
    run.status = "error" if any("error" in a for a in detail["actions"]) else "ok"
    run.detail = dict(detail)
    flag_modified(run, "detail")
    session().flush()
    if changed:
        records.note_event(record, "workflow", None, text=rule.name)
    for then in later:
        then(run.id)  # enqueued now, sent after the commit
    return run


def _message(rule: Compiled, kind: str, exc: Exception) -> str:
    if isinstance(exc, records.ValidationErrors):
        return "; ".join(exc.errors.values())
    if isinstance(exc, ActionError | FieldError):
        return str(exc)
    if isinstance(exc, DBAPIError):
        diag = getattr(exc.orig, "diag", None)
        reason = getattr(diag, "message_primary", None) or type(exc.orig).__name__
        return str(_l("The database refused the change: %(reason)s", reason=reason))
    log.exception("workflow rule %s: action %s failed", rule.id, kind)
    return str(_l("Unexpected error (%(kind)s); the team has been told.", kind=type(exc).__name__))


def _write_run(rule, otype: ObjectType, record_id, event: str, status: str, detail: dict):
    run = WorkflowRun(
        rule_id=rule.id,
        object=otype.name,
        record_id=record_id,
        event=event,
        status=status,
        detail=dict(detail),
    )
    session().add(run)
    session().flush()
    return run
