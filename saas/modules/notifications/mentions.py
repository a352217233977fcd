"""Who a note mentions: ``@`` followed by a member's handle.

A member's handles, compared without regard to case:

* their full name as written ("@Mia Wong", "@张伟") and without spaces ("@MiaWong");
* the part of their e-mail address before the "@" ("@mia.wong"), and the whole address;
* their first name alone ("@Mia") when no other member has the same first name.

The longest handle that follows an ``@`` wins ("@Mia Wong" is Mia Wong even if "@Mia"
is someone else). A Latin handle must end at a word boundary ("@miami" is not "@mia");
Chinese needs no space after the name ("@张伟请看" mentions 张伟). An ``@`` inside an
e-mail address ("bob@example.com") is not a mention.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Characters that glue an "@" to an e-mail address before it, or a Latin handle to the
# text after it.
_ADDRESS_CHAR = re.compile(r"[A-Za-z0-9._%+\-]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9_]")


def handles(members: Iterable[tuple[int, str, str]]) -> dict[str, int]:
    """{handle: user id} for members given as (id, name, e-mail); ambiguous ones left out."""
    found: dict[str, set[int]] = {}

    def add(handle: str, uid: int) -> None:
        handle = handle.strip().casefold()
        if handle:
            found.setdefault(handle, set()).add(uid)

    for uid, name, email in members:
        name = " ".join((name or "").split())
        add(name, uid)
        add(name.replace(" ", ""), uid)
        if " " in name:
            add(name.split(" ")[0], uid)
        if email:
            add(email, uid)
            add(email.partition("@")[0], uid)
    return {h: next(iter(ids)) for h, ids in found.items() if len(ids) == 1}


def find(text: str, members: Iterable[tuple[int, str, str]]) -> list[int]:
    """Ids of the members ``text`` mentions, in order of first mention, once each."""
    if "@" not in (text or ""):
        return []
    known = handles(members)
    ordered = sorted(known, key=len, reverse=True)
    longest = len(ordered[0]) if ordered else 0
    folded = text.casefold()
    found: list[int] = []
    for at in (m.start() for m in re.finditer("@", folded)):
        if at > 0 and _ADDRESS_CHAR.match(folded[at - 1]):
            continue
        after = folded[at + 1 : at + 1 + longest + 1]
        for handle in ordered:
            if not after.startswith(handle):
                continue
            following = after[len(handle) : len(handle) + 1]
            if following and _LATIN_WORD.match(following) and _LATIN_WORD.match(handle[-1]):
                continue  # "@miami" is not "@mia"
            if known[handle] not in found:
                found.append(known[handle])
            break
    return found
