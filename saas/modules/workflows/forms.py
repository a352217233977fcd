"""The builder form: its flat inputs to a submitted rule and back, and the buttons that
add, remove and reorder rows by re-rendering the page (so it works without JavaScript).

Inputs: ``object``, ``name``, ``active``, ``trigger`` and ``trigger_<param>``,
``match``, ``c_rows`` and ``c-<i>-field|op|value|other``, ``a_rows`` and ``a-<i>-kind``
with ``a-<i>-<param>``. Errors use the same names.
"""

from __future__ import annotations

from collections.abc import Mapping

from saas.modules.workflows.definition import MAX_ACTIONS, MAX_CONDITIONS

TRIGGER_PARAMS = ("field", "from", "to", "offset", "every", "hour")
ACTION_PARAMS = (
    "field", "value", "subject", "due_days", "assignee", "priority", "to", "title", "body",
    "url", "secret", "new_secret",
)  # fmt: skip


def blank(object_name: str = "deal") -> dict:
    """A new rule: one empty condition row and one empty action row."""
    return {
        "object": object_name,
        "name": "",
        "active": True,
        "trigger": {"kind": "created"},
        "match": "all",
        "conditions": [empty_condition()],
        "actions": [empty_action()],
    }


def empty_condition() -> dict:
    return {"field": "", "op": "equals", "value": "", "other": ""}


def empty_action() -> dict:
    return {"kind": ""}


def _rows(form: Mapping, name: str, most: int) -> int:
    raw = str(form.get(name, "1"))
    return max(0, min(int(raw), most + 1)) if raw.isdigit() else 1


def submitted(form: Mapping) -> dict:
    """The rule as the form submitted it (raw values; ``definition.validate`` checks)."""
    trigger = {key: form.get(f"trigger_{key}", "") for key in TRIGGER_PARAMS}
    trigger["kind"] = form.get("trigger", "")
    conditions = [
        {key: form.get(f"c-{i}-{key}", "") for key in ("field", "op", "value", "other")}
        for i in range(_rows(form, "c_rows", MAX_CONDITIONS))
    ]
    actions = []
    for i in range(_rows(form, "a_rows", MAX_ACTIONS)):
        row = {key: form.get(f"a-{i}-{key}", "") for key in ACTION_PARAMS}
        row["kind"] = form.get(f"a-{i}-kind", "")
        actions.append(row)
    return {
        "object": form.get("object", ""),
        "name": form.get("name", ""),
        "active": form.get("active") in {"on", "1", "true"},
        "trigger": trigger,
        "match": form.get("match", "all"),
        "conditions": conditions,
        "actions": actions,
    }


def rearrange(raw: dict, do: str) -> dict:
    """Apply a row button: ``add_condition``, ``add_action``, ``remove-c-<i>``,
    ``remove-a-<i>``, ``up-a-<i>``; anything else re-renders as is."""
    conditions, actions = list(raw["conditions"]), list(raw["actions"])
    kind, _, index = do.rpartition("-")
    i = int(index) if index.isdigit() else -1
    if do == "add_condition" and len(conditions) < MAX_CONDITIONS:
        conditions.append(empty_condition())
    elif do == "add_action" and len(actions) < MAX_ACTIONS:
        actions.append(empty_action())
    elif kind == "remove-c" and 0 <= i < len(conditions):
        del conditions[i]
    elif kind == "remove-a" and 0 <= i < len(actions):
        del actions[i]
    elif kind == "up-a" and 0 < i < len(actions):
        actions[i - 1], actions[i] = actions[i], actions[i - 1]
    return {**raw, "conditions": conditions, "actions": actions}
