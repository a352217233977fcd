"""Ownership and teams: visibility own / team / all everywhere records are shown,
round-robin assignment of new leads, bulk reassignment, transfers (also from people
who left), the teams admin pages and the workspace settings behind them."""

import csv
import io
import re
import threading

from sqlalchemy import delete, func, select, text

from saas.db import db
from saas.modules.accounts.models import Membership
from saas.modules.customers.models import Account
from saas.modules.leads.models import Lead
from saas.modules.records import service as records
from saas.modules.records.models import TimelineEntry
from saas.modules.records.registry import get
from saas.modules.teams import service as teams
from saas.modules.teams.models import Team
from saas.tenants.models import Tenant
from tests.conftest import login, post, signup
from tests.factories import add_member, exported, make, tenant_ref, user_id

SETTINGS = {
    "company": "Team Co",
    "currency": "USD",
    "timezone": "UTC",
    "locale": "en",
    "date_format": "YYYY-MM-DD",
    "visibility_admin": "all",
    "visibility_member": "all",
    "visibility_readonly": "all",
}


def _settings(client, slug, **changes):
    resp = post(client, f"/app/{slug}/settings", SETTINGS | changes)
    assert resp.status_code == 302, resp.get_data(as_text=True)


def _team(slug, name, *user_ids, round_robin=False) -> int:
    with db.scope(tenant_ref(slug)):
        team = teams.create_team(name, round_robin=round_robin)
        for uid in user_ids:
            teams.add_member(team, uid)
        return team.id


def _leave(slug, uid) -> None:
    """``uid`` leaves the company (their records and team memberships stay)."""
    with db.scope() as s:
        tenant_id = s.execute(select(Tenant.id).where(Tenant.slug == slug)).scalar_one()
        s.execute(
            delete(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == uid)
        )


def _owners(slug, model, ids) -> list[int]:
    with db.scope(tenant_ref(slug)) as s:
        return [s.get(model, i).owner_id for i in ids]


def _names(html: str) -> set[str]:
    return set(re.findall(r"Vis(?:A|B|C|Boss)\w*", html))


def test_visibility_own_team_and_all_on_every_page(client, make_client, run_jobs):
    slug, owner_email = signup(client)
    boss = user_id(owner_email)
    browsers, ids = {}, {}
    for who in ("A", "B", "C"):
        email, ids[who] = add_member(slug, "member", name=f"Rep {who}")
        browsers[who] = make_client()
        login(browsers[who], email)
    _team(slug, "North", ids["A"], ids["B"])
    leads = {who: make(slug, "lead", ids[who], last_name=f"Vis{who}") for who in ids}
    leads["Boss"] = make(slug, "lead", boss, last_name="VisBoss")
    a = browsers["A"]

    def seen_by_a() -> dict[str, set[str]]:
        csv_text = exported(a, run_jobs, slug, "lead").get_data(as_text=True)
        rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
        return {
            "list": _names(a.get(f"/app/{slug}/leads/").get_data(as_text=True)),
            "search": _names(a.get(f"/app/{slug}/search?q=vis").get_data(as_text=True)),
            "export": _names(" ".join(",".join(r) for r in rows[1:])),
            "pages": {
                f"Vis{who}"
                for who, lead in leads.items()
                if a.get(f"/app/{slug}/leads/{lead}").status_code == 200
            },
        }

    everything = {"VisA", "VisB", "VisC", "VisBoss"}
    assert set(map(frozenset, seen_by_a().values())) == {frozenset(everything)}

    _settings(client, slug, visibility_member="own")
    assert set(map(frozenset, seen_by_a().values())) == {frozenset({"VisA"})}
    assert a.get(f"/app/{slug}/leads/{leads['B']}").status_code == 404
    assert a.get(f"/app/{slug}/leads/{leads['B']}/edit").status_code == 404
    # Bulk actions only touch visible records: B's lead survives A's bulk delete.
    post(a, f"/app/{slug}/leads/bulk", {"action": "delete", "ids": [str(leads["B"])]})
    assert browsers["B"].get(f"/app/{slug}/leads/{leads['B']}").status_code == 200
    # The owner (and admins set to "all") still see everything.
    assert _names(client.get(f"/app/{slug}/leads/").get_data(as_text=True)) == everything

    _settings(client, slug, visibility_member="team")
    assert set(map(frozenset, seen_by_a().values())) == {frozenset({"VisA", "VisB"})}
    # C is in no team: only their own.
    assert _names(browsers["C"].get(f"/app/{slug}/leads/").get_data(as_text=True)) == {"VisC"}
    post(a, f"/app/{slug}/leads/bulk", {"action": "delete", "ids": [str(leads["C"])]})
    assert browsers["C"].get(f"/app/{slug}/leads/{leads['C']}").status_code == 200

    _settings(client, slug, visibility_member="all")
    assert set(map(frozenset, seen_by_a().values())) == {frozenset(everything)}


def test_settings_page_stores_visibility_and_date_format(client, make_client):
    slug, _ = signup(client)
    page = client.get(f"/app/{slug}/settings").get_data(as_text=True)
    assert "Who sees which records" in page and "Owners always see all records" in page
    assert f"/app/{slug}/teams/" in page and f"/app/{slug}/owners/transfer" in page
    _settings(client, slug, date_format="DD/MM/YYYY", visibility_readonly="own")
    with db.scope(tenant_ref(slug)):
        from saas.modules.records.access import visibility_settings

        assert visibility_settings() == {
            "owner": "all",
            "admin": "all",
            "member": "all",
            "readonly": "own",
        }
    lead = make(slug, "lead", last_name="Dated")
    page = client.get(f"/app/{slug}/leads/{lead}").get_data(as_text=True)
    assert re.search(r"\d\d/\d\d/20\d\d \d\d:\d\d", page)  # DD/MM/YYYY HH:mm
    resp = post(client, f"/app/{slug}/settings", SETTINGS | {"visibility_member": "everything"})
    assert resp.status_code == 400
    member = make_client()
    email, _ = add_member(slug, "member")
    login(member, email)
    assert member.get(f"/app/{slug}/settings").status_code == 403


def test_new_leads_without_an_owner_go_round_robin_through_the_team(client):
    slug, owner_email = signup(client)
    me = user_id(owner_email)
    reps = sorted(add_member(slug, "member")[1] for _ in range(3))
    team = _team(slug, "Inside sales", *reversed(reps), round_robin=True)

    def new_lead(name, **extra) -> int:
        resp = post(client, f"/app/{slug}/leads/new", {"last_name": name, "owner_id": ""} | extra)
        assert resp.status_code == 302
        return int(resp.headers["Location"].rsplit("/", 1)[1])

    form = client.get(f"/app/{slug}/leads/new").get_data(as_text=True)
    assert "next member of a round-robin team" in form  # the rule, next to the field
    first = [new_lead(f"RR{i}") for i in range(4)]
    assert _owners(slug, Lead, first) == [reps[0], reps[1], reps[2], reps[0]]
    # An owner chosen on purpose is kept and does not take anyone's turn.
    chosen = new_lead("Chosen", owner_id=str(me))
    assert _owners(slug, Lead, [chosen, new_lead("RR4")]) == [me, reps[1]]
    # Other objects are not handed out: their creator owns them.
    resp = post(client, f"/app/{slug}/accounts/new", {"name": "Not RR", "owner_id": ""})
    assert _owners(slug, Account, [int(resp.headers["Location"].rsplit("/", 1)[1])]) == [me]
    # Leads from the API, imports or web forms (no actor, no owner) take turns too.
    with db.scope(tenant_ref(slug)):
        assert records.create(get("lead"), {"last_name": "FromApi"}).owner_id == reps[2]

    _leave(slug, reps[0])  # skipped from now on
    assert _owners(slug, Lead, [new_lead("RR5"), new_lead("RR6")]) == [reps[1], reps[2]]
    page = client.get(f"/app/{slug}/teams/{team}").get_data(as_text=True)
    assert f"Former user #{reps[0]}" in page and "skipped by round-robin" in page

    post(client, f"/app/{slug}/teams/{team}/round-robin", {})  # switched off
    assert _owners(slug, Lead, [new_lead("NoRR")]) == [me]


def test_round_robin_prefers_the_creators_team(client, make_client):
    slug, _ = signup(client)
    north = [add_member(slug, "member") for _ in range(2)]
    south_email, south = add_member(slug, "member")
    _team(slug, "North", *(uid for _, uid in north), round_robin=True)
    _team(slug, "South", south, round_robin=True)
    rep = make_client()
    login(rep, south_email)
    resp = post(rep, f"/app/{slug}/leads/new", {"last_name": "Southern", "owner_id": ""})
    assert _owners(slug, Lead, [int(resp.headers["Location"].rsplit("/", 1)[1])]) == [south]
    with db.scope(tenant_ref(slug)):  # no creator: the oldest round-robin team
        assert records.create(get("lead"), {"last_name": "Web"}).owner_id == min(
            uid for _, uid in north
        )


def test_two_leads_created_at_once_go_to_two_people(client):
    slug, _ = signup(client)
    reps = sorted(add_member(slug, "member")[1] for _ in range(2))
    _team(slug, "Race", *reps, round_robin=True)
    ref = tenant_ref(slug)
    result = {}

    def second() -> None:
        with db.scope(ref):
            result["owner"] = records.create(get("lead"), {"last_name": "Second"}).owner_id

    with db.scope(ref):
        first = records.create(get("lead"), {"last_name": "First"}).owner_id
        # The first transaction holds the team row: the second waits for it...
        thread = threading.Thread(target=second)
        thread.start()
        with db.engine.connect() as probe:
            for _ in range(500):
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar_one()
                if waiting or not thread.is_alive():
                    break
                probe.execute(text("SELECT pg_sleep(0.01)"))
    # ...and sees the first one's turn once it is committed.
    thread.join(30)
    assert first == reps[0] and result["owner"] == reps[1]


def test_bulk_reassign_from_the_list(client):
    slug, owner_email = signup(client, name="Pat Owner")
    me = user_id(owner_email)
    _, rep = add_member(slug, "member", name="Robin Rep")
    ids = [make(slug, "lead", me, last_name=f"Bulk{i}") for i in range(3)]
    resp = post(
        client,
        f"/app/{slug}/leads/bulk",
        {"action": "assign", "owner_id": str(rep), "ids": [str(i) for i in ids[:2]]},
    )
    assert resp.status_code == 302
    assert "2 records reassigned" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert _owners(slug, Lead, ids) == [rep, rep, me]
    page = client.get(f"/app/{slug}/leads/{ids[0]}").get_data(as_text=True)
    assert "<del>Pat Owner</del>" in page and "<ins>Robin Rep</ins>" in page


def test_transfer_everything_from_one_person_to_another(client, make_client):
    slug, owner_email = signup(client, name="Pat Owner")
    _, leaver = add_member(slug, "member", name="Lee Leaver")
    _, heir = add_member(slug, "member", name="Hana Heir")
    made = {
        name: [make(slug, name, leaver) for _ in range(n)]
        for name, n in (("lead", 2), ("account", 1), ("deal", 1), ("activity", 1))
    }
    kept = make(slug, "lead", user_id(owner_email), last_name="Not moved")
    page = client.get(f"/app/{slug}/owners/transfer").get_data(as_text=True)
    assert "Lee Leaver" in page and "Former owners" not in page
    resp = post(
        client, f"/app/{slug}/owners/transfer", {"from_user": str(leaver), "to_user": str(heir)}
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "5 records moved from Lee Leaver to Hana Heir" in body
    counts = dict(re.findall(r">(Leads|Accounts|Deals|Activities)</a></td><td>(\d+)<", body))
    assert counts == {"Leads": "2", "Accounts": "1", "Deals": "1", "Activities": "1"}
    assert _owners(slug, Lead, made["lead"] + [kept]) == [heir, heir, user_id(owner_email)]
    lead_page = client.get(f"/app/{slug}/leads/{made['lead'][0]}").get_data(as_text=True)
    assert "<del>Lee Leaver</del>" in lead_page and "<ins>Hana Heir</ins>" in lead_page
    bad = post(client, f"/app/{slug}/owners/transfer", {"from_user": str(heir), "to_user": "x"})
    assert bad.status_code == 400

    member = make_client()
    email, _ = add_member(slug, "member")
    login(member, email)
    assert member.get(f"/app/{slug}/owners/transfer").status_code == 403


def test_transfer_from_someone_who_already_left(client):
    slug, owner_email = signup(client)
    _, gone = add_member(slug, "member", name="Gone Girl")
    _, heir = add_member(slug, "member", name="Hana Heir")
    lead = make(slug, "lead", gone, last_name="Orphan")
    account = make(slug, "account", gone, name="Orphan Co")
    deleted = make(slug, "lead", gone, last_name="Binned")
    with db.scope(tenant_ref(slug)) as s:
        records.delete(get("lead"), s.get(Lead, deleted))
    _leave(slug, gone)
    page = client.get(f"/app/{slug}/owners/transfer").get_data(as_text=True)
    assert "Former owners" in page and f'<option value="{gone}">Former user #{gone}<' in page
    assert "Gone Girl" not in page
    resp = post(
        client, f"/app/{slug}/owners/transfer", {"from_user": str(gone), "to_user": str(heir)}
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"2 records moved from Former user #{gone} to Hana Heir" in body
    assert _owners(slug, Lead, [lead, deleted]) == [heir, gone]  # the recycle bin stays
    assert _owners(slug, Account, [account]) == [heir]
    with db.scope(tenant_ref(slug)) as s:
        entry = (
            s.execute(
                select(TimelineEntry)
                .where(TimelineEntry.object == "account", TimelineEntry.record_id == account)
                .order_by(TimelineEntry.id.desc())
            )
            .scalars()
            .first()
        )
        assert entry.kind == "updated" and entry.data["changes"]["owner_id"][1] == "Hana Heir"
    # Nothing left to move: they are no longer offered.
    page = client.get(f"/app/{slug}/owners/transfer").get_data(as_text=True)
    assert f"Former user #{gone}" not in page
    # Only people who own something, or are on the team, can be a source.
    resp = post(
        client, f"/app/{slug}/owners/transfer", {"from_user": "999999", "to_user": str(heir)}
    )
    assert resp.status_code == 400


def test_teams_admin_pages(client, make_client):
    slug, owner_email = signup(client)
    _, ann = add_member(slug, "member", name="Ann Able")
    _, bob = add_member(slug, "member", name="Bob Baker")
    assert "Sales teams" in client.get(f"/app/{slug}/team/").get_data(as_text=True)
    resp = post(client, f"/app/{slug}/teams/", {"name": "  Key   Accounts ", "round_robin": "on"})
    assert resp.status_code == 302
    team_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    resp = post(client, f"/app/{slug}/teams/", {"name": "key accounts"})
    assert resp.status_code == 400 and "exists already" in resp.get_data(as_text=True)
    assert post(client, f"/app/{slug}/teams/", {"name": ""}).status_code == 400

    for uid in (ann, bob):
        assert (
            post(client, f"/app/{slug}/teams/{team_id}/members", {"user_id": str(uid)}).status_code
            == 302
        )
    resp = post(client, f"/app/{slug}/teams/{team_id}/members", {"user_id": "999999"})
    assert resp.status_code == 400 and "Choose someone on your team" in resp.get_data(as_text=True)
    page = client.get(f"/app/{slug}/teams/").get_data(as_text=True)
    assert "Key Accounts" in page and "Ann Able, Bob Baker" in page and ">On<" in page

    post(client, f"/app/{slug}/teams/{team_id}/members/{bob}/remove")
    assert post(client, f"/app/{slug}/teams/{team_id}/members/{bob}/remove").status_code == 404
    post(client, f"/app/{slug}/teams/{team_id}/rename", {"name": "Enterprise"})
    post(client, f"/app/{slug}/teams/{team_id}/round-robin", {})
    with db.scope(tenant_ref(slug)) as s:
        team = s.get(Team, team_id)
        assert (team.name, team.round_robin) == ("Enterprise", False)
        assert teams.member_ids(team_id) == [ann]

    member = make_client()
    email, _ = add_member(slug, "member")
    login(member, email)
    assert member.get(f"/app/{slug}/teams/").status_code == 403
    assert post(member, f"/app/{slug}/teams/", {"name": "Mine"}).status_code == 403

    assert post(client, f"/app/{slug}/teams/{team_id}/delete").status_code == 302
    assert client.get(f"/app/{slug}/teams/{team_id}").status_code == 404
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(func.count()).select_from(Team)).scalar_one() == 0
