"""Notifications that record writes cause: a record assigned to you, an @mention in a
note, a transfer of someone's records to you.

They run as ``records.service`` listeners in the transaction of the write, so they are
created with it or not at all; e-mails go out after its commit. Inside
``service.batched()`` (imports, bulk assign) they are summarised per person.
"""

from __future__ import annotations

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from saas.modules.notifications import mentions
from saas.modules.notifications.service import is_muted, notify, tenant_locale
from saas.modules.records import service as records
from saas.modules.records.registry import ObjectType, get

EVENTS = ("created", "updated")
EXCERPT = 300  # characters of a note quoted in its mention


def on_write(otype: ObjectType, record, event: str, changes: dict, actor: int | None) -> None:
    """``records.service`` listener."""
    if event not in EVENTS:
        return
    if "owner_id" in changes and not is_muted("assigned"):
        _assigned(otype, record, changes["owner_id"][1], actor)
    # A bulk write (``records.bulk``) hands over a plain object of the values it wrote.
    kind = getattr(record, "kind", None)
    note = otype.name == "activity" and kind == "note" and not is_muted("mention")
    if note and (event == "created" or "body" in changes or "subject" in changes):
        _mentioned(record, actor)


def _wants(otype: ObjectType, event: str) -> bool:
    # Bulk writes (imports) take their COPY path only when no listener wants the event:
    # an import that mutes "assigned" (it tells owners itself) keeps it.
    if event not in EVENTS:
        return False
    if "owner_id" in otype.by_name and not is_muted("assigned"):
        return True
    return otype.name == "activity" and not is_muted("mention")


on_write.wants = _wants
on_write.bulk_safe = True  # it only reads the record: bulk writes call it as they go
records.listeners.append(on_write)


def _assigned(otype: ObjectType, record, owner: int | None, actor: int | None) -> None:
    """The new owner hears of it, unless they gave it to themselves."""
    if owner is None or owner == actor:
        return
    with force_locale(tenant_locale()):
        title = _("Assigned to you: %(object)s “%(title)s”", object=otype.label,
                  title=_title(otype, record))  # fmt: skip
        who = records.member_names().get(actor) if actor is not None else None
        body = _("By %(name)s.", name=who) if who else ""
    notify([owner], kind="assigned", title=title, body=body, url=f"/{otype.slug}/{record.id}")


def _title(otype: ObjectType, record) -> str:
    try:
        return otype.title(record)
    except AttributeError:  # the plain values of a bulk write, without the model's helpers
        return records.titles(otype, [record.id]).get(record.id, f"#{record.id}")


def on_transfer(from_user: int, to_user: int, ids: dict[str, list], actor: int | None) -> None:
    """``records.service.transfer`` hook: one notification for all the records moved."""
    counts = {name: len(moved) for name, moved in ids.items()}
    total = sum(counts.values())
    if not total or to_user == actor:
        return
    names = records.member_names()
    moved = sorted(((n, name) for name, n in counts.items() if n), reverse=True)
    with force_locale(tenant_locale()):
        title = ngettext(
            "%(num)d record was transferred to you", "%(num)d records were transferred to you",
            total,
        )  # fmt: skip
        lines = [f"{get(name).plural}: {n}" for n, name in moved]
        former = names.get(from_user) or _("Former user #%(id)s", id=from_user)
        lines.append(_("Previously owned by %(name)s.", name=former))
    # The list of the object with the most records, filtered to what is now theirs.
    url = f"/{get(moved[0][1]).slug}/?owner_id=me"
    notify([to_user], kind="assigned", title=title, body="\n".join(lines), url=url)


records.transfer_listeners.append(on_transfer)


def _mentioned(note, actor: int | None) -> None:
    """Members the note mentions, once per note and person (an edit tells only newcomers)."""
    text = "\n".join(t for t in (getattr(note, "subject", None), getattr(note, "body", None)) if t)
    if "@" not in text:
        return
    from saas.modules.workspace.service import members

    people = [(u.id, u.name, u.email) for _m, u in members()]
    author = actor or getattr(note, "created_by", None) or getattr(note, "owner_id", None)
    mentioned = [uid for uid in mentions.find(text, people) if uid != author]
    if not mentioned:
        return
    url, about = f"/activities/{note.id}", ""
    related_object = getattr(note, "related_object", None)
    related_id = getattr(note, "related_id", None)
    if related_object and related_id:
        try:
            target = get(related_object)
        except KeyError:
            target = None
        if target is not None:
            url = f"/{target.slug}/{related_id}"
            about = records.titles(target, [related_id]).get(related_id, "")
    name = records.member_names().get(author) if author is not None else None
    with force_locale(tenant_locale()):
        name = name or _("Someone")
        if about:
            title = _("%(name)s mentioned you in a note on “%(record)s”", name=name, record=about)
        else:
            title = _("%(name)s mentioned you in a note", name=name)
    body = getattr(note, "body", None) or getattr(note, "subject", None) or ""
    body = body if len(body) <= EXCERPT else body[: EXCERPT - 1] + "…"
    notify(mentioned, kind="mention", title=title, body=body, url=url, key=f"mention:{note.id}")
