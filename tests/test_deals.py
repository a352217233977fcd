"""Deals on pipelines: the new-deal form, the kanban board and its totals, moving a
deal (stage history, timeline, won / lost), the pipelines admin and who may do what."""

import re

from sqlalchemy import select

from saas.db import db
from saas.modules.deals.models import Deal, Pipeline, Stage, StageChange
from tests.conftest import login, post, signup
from tests.factories import add_member, make, tenant_ref, user_id

JSON = {"Accept": "application/json"}


def _stages(slug) -> dict[str, int]:
    with db.scope(tenant_ref(slug)) as s:
        return dict(s.execute(select(Stage.name, Stage.id)).all())


def _deal(slug, deal_id) -> Deal:
    with db.scope(tenant_ref(slug)) as s:
        deal = s.get(Deal, deal_id)
        s.expunge(deal)
        return deal


def _history(slug, deal_id) -> list[tuple]:
    with db.scope(tenant_ref(slug)) as s:
        rows = s.execute(
            select(StageChange.from_stage_id, StageChange.to_stage_id, StageChange.user_id)
            .where(StageChange.deal_id == deal_id)
            .order_by(StageChange.id)
        )
        return [tuple(r) for r in rows]


def _column(page: str, stage_id: int) -> str:
    """The HTML of one board column."""
    start = page.index(f'data-stage="{stage_id}"')
    end = page.find('<section class="kanban-col', start)
    return page[start : end if end != -1 else None]


def test_new_deal_form_preselects_the_default_stage_and_creates_the_deal(client):
    slug, email = signup(client)
    stages = _stages(slug)
    form = client.get(f"/app/{slug}/deals/new?next=/app/{slug}/").get_data(as_text=True)
    assert re.search(rf'<option value="{stages["Qualification"]}" selected>Qualification', form)
    account = make(slug, "account", name="Northwind Traders")
    resp = post(
        client,
        f"/app/{slug}/deals/new",
        {
            "name": "Northwind renewal",
            "account_id": str(account),
            "stage_id": str(stages["Qualification"]),
            "amount": "12,000",
            "currency": "USD",
            "close_date": "2026-12-15",
        },
    )
    assert resp.status_code == 302
    deal_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    deal = _deal(slug, deal_id)
    assert (deal.status, deal.probability, deal.owner_id) == ("open", 10, user_id(email))
    assert _history(slug, deal_id) == [(None, stages["Qualification"], user_id(email))]
    page = client.get(f"/app/{slug}/deals/{deal_id}").get_data(as_text=True)
    assert 'class="current open"' in page and 'aria-current="step"' in page  # progress bar
    assert "Stage history" in page and "Northwind Traders" in page
    # The list links to the board, and the board shows the new card.
    assert f"/app/{slug}/deals/board" in client.get(f"/app/{slug}/deals/").get_data(as_text=True)
    board = client.get(f"/app/{slug}/deals/board").get_data(as_text=True)
    column = _column(board, stages["Qualification"])
    assert "Northwind renewal" in column and "Northwind Traders" in column
    assert "$12,000.00" in column and "2026-12-15" in column and "Pat Owner" in column


def test_board_shows_every_stage_in_order_with_counts_and_totals(client, monkeypatch):
    from saas.modules.deals import board

    slug, email = signup(client)
    me = user_id(email)
    stages = _stages(slug)
    for amount in ("1000", "3000", "500"):
        make(slug, "deal", me, stage_id=stages["Proposal"], amount=amount)
    make(slug, "deal", me, stage_id=stages["Negotiation"], amount="100", currency="EUR")
    make(slug, "deal", me, stage_id=stages["Won"], amount="2000")
    page = client.get(f"/app/{slug}/deals/board").get_data(as_text=True)
    order = ["Qualification", "Needs analysis", "Proposal", "Negotiation", "Won", "Lost"]
    positions = [page.index(f'data-stage="{stages[name]}"') for name in order]
    assert positions == sorted(positions)
    proposal = _column(page, stages["Proposal"])
    assert "<dd data-count>3</dd>" in proposal
    assert "<dd data-total>$4,500.00</dd>" in proposal
    assert "<dd data-weighted>$2,250.00</dd>" in proposal  # 50 %
    negotiation = _column(page, stages["Negotiation"])
    assert "€100.00" in negotiation and "€75.00" in negotiation  # its own currency
    assert "<dd data-weighted>$2,000.00</dd>" in _column(page, stages["Won"])
    assert "No deals here." in _column(page, stages["Lost"])

    # Columns show the newest cards only and link to the list for the rest.
    monkeypatch.setattr(board, "PER_COLUMN", 2)
    proposal = _column(
        client.get(f"/app/{slug}/deals/board").get_data(as_text=True), stages["Proposal"]
    )
    assert proposal.count('class="kanban-card"') == 2 and "<dd data-count>3</dd>" in proposal
    assert f"stage_id={stages['Proposal']}" in proposal and "1 more" in proposal


def test_moving_a_deal_records_the_stage_history_and_the_timeline(client):
    slug, email = signup(client)
    me = user_id(email)
    stages = _stages(slug)
    deal_id = make(slug, "deal", me, name="Contoso pilot", amount="8000")
    other = make(slug, "deal", me, stage_id=stages["Proposal"], amount="2000")

    resp = post(
        client, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": stages["Proposal"]}, headers=JSON
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ok"] and body["deal"]["stage_id"] == stages["Proposal"]
    assert body["columns"][str(stages["Proposal"])] == {
        "count": 2,
        "total": "$10,000.00",
        "weighted": "$5,000.00",
    }
    assert body["columns"][str(stages["Qualification"])]["count"] == 0
    deal = _deal(slug, deal_id)
    assert (deal.status, deal.probability, deal.closed_at) == ("open", 50, None)
    assert _history(slug, deal_id)[-1] == (stages["Qualification"], stages["Proposal"], me)
    page = client.get(f"/app/{slug}/deals/{deal_id}").get_data(as_text=True)
    assert "Stage moved" in page and "Qualification → Proposal" in page
    assert "by Pat Owner" in page

    # Won closes the deal; the plain form (no script) goes back to the board.
    board_url = f"/app/{slug}/deals/board?owner_id=me"
    resp = post(
        client,
        f"/app/{slug}/deals/{deal_id}/move",
        {"stage_id": stages["Won"], "next": board_url},
    )
    assert resp.status_code == 302 and resp.headers["Location"] == board_url
    deal = _deal(slug, deal_id)
    assert (deal.status, deal.probability) == ("won", 100) and deal.closed_at is not None
    assert "“Contoso pilot” moved to Won." in client.get(board_url).get_data(as_text=True)

    # Lost, with a reason from the card's form.
    resp = post(
        client,
        f"/app/{slug}/deals/{other}/move",
        {"stage_id": stages["Lost"], "lost_reason": "price"},
    )
    assert resp.status_code == 302
    deal = _deal(slug, other)
    assert (deal.status, deal.probability, deal.lost_reason) == ("lost", 0, "price")
    assert len(_history(slug, deal_id)) == 3  # created, Proposal, Won


def test_a_bad_stage_is_refused_with_a_message(client):
    slug, email = signup(client)
    deal_id = make(slug, "deal", user_id(email))
    stage_before = _deal(slug, deal_id).stage_id
    for bad in ("999999", "abc", "", "-1", "99999999999999999999999"):
        resp = post(client, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": bad}, headers=JSON)
        assert resp.status_code == 400, bad
        assert resp.get_json()["error"].startswith("Stage:"), bad
    resp = post(client, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": "999999"})
    assert resp.status_code == 400
    assert "Stage: choose one from the list." in resp.get_data(as_text=True)
    assert _deal(slug, deal_id).stage_id == stage_before
    assert post(client, f"/app/{slug}/deals/424242/move", {"stage_id": "1"}).status_code == 404
    assert client.get(f"/app/{slug}/deals/board?pipeline=424242").status_code == 404
    assert client.get(f"/app/{slug}/deals/board?pipeline=x").status_code == 404


def test_a_readonly_member_sees_the_board_but_cannot_move(client, make_client):
    slug, email = signup(client)
    stages = _stages(slug)
    deal_id = make(slug, "deal", user_id(email), name="Fabrikam deal")
    reader_email, _ = add_member(slug, "readonly")
    reader = make_client()
    login(reader, reader_email)
    page = reader.get(f"/app/{slug}/deals/board").get_data(as_text=True)
    assert "Fabrikam deal" in page
    assert 'draggable="true"' not in page and "kanban-move" not in page
    resp = post(reader, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": stages["Won"]})
    assert resp.status_code == 403
    assert _deal(slug, deal_id).stage_id == stages["Qualification"]


def test_the_board_respects_visibility_and_the_owner_filter(client, make_client):
    from saas.modules.workspace.service import update_settings

    slug, email = signup(client)
    owner = user_id(email)
    stages = _stages(slug)
    member_email, member = add_member(slug, "member", name="Sam Member")
    mine = make(slug, "deal", member, name="Sam's deal", owner_id=member, amount="100")
    theirs = make(slug, "deal", owner, name="Owner's deal", owner_id=owner, amount="900")
    with db.scope(tenant_ref(slug)):
        update_settings(owner, visibility={"member": "own"})
    browser = make_client()
    login(browser, member_email)
    page = browser.get(f"/app/{slug}/deals/board").get_data(as_text=True)
    column = _column(page, stages["Qualification"])
    assert "Sam&#39;s deal" in column and "Owner&#39;s deal" not in column
    assert "<dd data-count>1</dd>" in column and "$100.00" in column and "$900.00" not in column
    resp = post(browser, f"/app/{slug}/deals/{theirs}/move", {"stage_id": stages["Won"]})
    assert resp.status_code == 404
    # The owner sees both, and "mine" narrows to their own.
    page = client.get(f"/app/{slug}/deals/board").get_data(as_text=True)
    assert "<dd data-count>2</dd>" in _column(page, stages["Qualification"])
    page = client.get(f"/app/{slug}/deals/board?owner_id=me").get_data(as_text=True)
    column = _column(page, stages["Qualification"])
    assert "Owner&#39;s deal" in column and "Sam&#39;s deal" not in column
    assert f"/deals/{mine}" not in column
    page = client.get(f"/app/{slug}/deals/board?q=sam").get_data(as_text=True)
    assert "Sam&#39;s deal" in page and "Owner&#39;s deal" not in page


def test_pipelines_admin(client, make_client):
    slug, email = signup(client)
    me = user_id(email)
    stages = _stages(slug)
    member_email, _ = add_member(slug, "member")
    member = make_client()
    login(member, member_email)
    assert member.get(f"/app/{slug}/pipelines/").status_code == 403
    assert post(member, f"/app/{slug}/pipelines/new", {"name": "Nope"}).status_code == 403
    assert "/pipelines/" in client.get(f"/app/{slug}/deals/board").get_data(as_text=True)

    # A copy of the default stages, or a single open stage.
    resp = post(client, f"/app/{slug}/pipelines/new", {"name": "Renewals", "stages": "copy"})
    renewals = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    resp = post(client, f"/app/{slug}/pipelines/new", {"name": "Partners", "stages": "single"})
    partners = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    resp = post(client, f"/app/{slug}/pipelines/new", {"name": "renewals"}, follow_redirects=True)
    assert "A pipeline named “renewals” exists already." in resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        by_pipeline = {
            p: s.execute(select(Stage.name).where(Stage.pipeline_id == p).order_by(Stage.position))
            .scalars()
            .all()
            for p in (renewals, partners)
        }
    assert by_pipeline[renewals] == list(stages)
    assert by_pipeline[partners] == ["New"]
    page = client.get(f"/app/{slug}/deals/board?pipeline={renewals}").get_data(as_text=True)
    assert "Renewals" in page and "Negotiation" in page

    base = f"/app/{slug}/pipelines/{partners}"
    post(client, f"{base}/rename", {"name": "Channel partners"})
    post(client, f"{base}/stages", {"name": "Won", "probability": "100", "kind": "won"})
    post(client, f"{base}/stages", {"name": "Signed", "probability": "60", "kind": "open"})
    resp = post(
        client,
        f"{base}/stages",
        {"name": "Bad", "probability": "140", "kind": "open"},
        follow_redirects=True,
    )
    assert "Probability: a whole number from 0 to 100." in resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(Pipeline, partners).name == "Channel partners"
        rows = s.execute(
            select(Stage.name, Stage.id, Stage.kind)
            .where(Stage.pipeline_id == partners)
            .order_by(Stage.position)
        ).all()
    assert [r.name for r in rows] == ["New", "Signed", "Won"]  # open stages before closed
    new, signed, won = (r.id for r in rows)
    post(client, f"{base}/stages/{signed}/shift", {"direction": "up"})
    page = client.get(base).get_data(as_text=True)
    assert page.index('value="Signed"') < page.index('value="New"')

    # A pipeline keeps an open stage; a stage with deals stays until they move.
    post(client, f"{base}/stages/{signed}/delete")
    resp = post(client, f"{base}/stages/{new}/delete", follow_redirects=True)
    assert "A pipeline needs at least one open stage." in resp.get_data(as_text=True)
    resp = post(
        client,
        f"{base}/stages/{new}",
        {"name": "New", "probability": "10", "kind": "lost"},
        follow_redirects=True,
    )
    assert "A pipeline needs at least one open stage." in resp.get_data(as_text=True)
    make(slug, "deal", me, stage_id=won)
    make(slug, "deal", me, stage_id=won)
    resp = post(client, f"{base}/stages/{won}/delete", follow_redirects=True)
    assert "2 deals are in “Won”. Move them to another stage first." in resp.get_data(as_text=True)
    resp = post(
        client,
        f"{base}/stages/{won}",
        {"name": "Closed won", "probability": "100", "kind": "won"},
        follow_redirects=True,
    )
    assert "Stage “Closed won” saved." in resp.get_data(as_text=True)
    resp = post(client, f"{base}/delete", follow_redirects=True)
    assert "2 deals are in “Channel partners”." in resp.get_data(as_text=True)
    post(client, f"/app/{slug}/pipelines/{renewals}/default")
    with db.scope(tenant_ref(slug)) as s:
        defaults = s.execute(select(Pipeline.id).where(Pipeline.is_default)).scalars().all()
    assert defaults == [renewals]
    empty = post(client, f"/app/{slug}/pipelines/new", {"name": "Scratch"})
    scratch = int(empty.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    resp = post(client, f"/app/{slug}/pipelines/{scratch}/delete", follow_redirects=True)
    assert "Pipeline “Scratch” deleted." in resp.get_data(as_text=True)
    assert client.get(f"/app/{slug}/pipelines/{scratch}").status_code == 404


def test_a_deal_can_move_to_another_pipeline(client):
    slug, email = signup(client)
    deal_id = make(slug, "deal", user_id(email))
    resp = post(client, f"/app/{slug}/pipelines/new", {"name": "Renewals", "stages": "single"})
    pipeline = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with db.scope(tenant_ref(slug)) as s:
        stage = s.execute(select(Stage.id).where(Stage.pipeline_id == pipeline)).scalar_one()
    resp = post(client, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": stage}, headers=JSON)
    assert resp.status_code == 200
    assert _deal(slug, deal_id).pipeline_id == pipeline
    page = client.get(f"/app/{slug}/deals/{deal_id}").get_data(as_text=True)
    assert "Qualification → New" in page


def test_the_board_costs_the_same_queries_for_few_or_many_cards(client):
    """Names of accounts and owners are loaded once per board, not once per card."""
    from contextlib import contextmanager

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @contextmanager
    def counting():
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(Engine, "before_cursor_execute", count)
        try:
            yield statements
        finally:
            event.remove(Engine, "before_cursor_execute", count)

    slug, email = signup(client)
    me = user_id(email)
    stages = _stages(slug)

    def add_deals(n):
        for i in range(n):
            account = make(slug, "account", me)
            make(slug, "deal", me, account_id=account, stage_id=list(stages.values())[i % 4])

    add_deals(2)
    client.get(f"/app/{slug}/deals/board")
    with counting() as few:
        assert client.get(f"/app/{slug}/deals/board").status_code == 200
    add_deals(12)
    client.get(f"/app/{slug}/deals/board")  # both counted with the totals cached
    with counting() as many:
        page = client.get(f"/app/{slug}/deals/board").get_data(as_text=True)
    assert page.count('class="kanban-card"') == 14
    assert len(few) > 3 and len(many) == len(few)


def test_board_totals_follow_every_kind_of_change(client):
    """The totals are kept between page views; any change to a deal shows at once."""
    slug, email = signup(client)
    me = user_id(email)
    stages = _stages(slug)
    _, other = add_member(slug, "member", name="Kim Other")
    first = stages["Qualification"]
    url = f"/app/{slug}/deals/board"

    def stats():
        column = _column(client.get(url).get_data(as_text=True), first)
        count = re.search(r"<dd data-count>([^<]*)</dd>", column).group(1)
        total = re.search(r"<dd data-total>([^<]*)</dd>", column).group(1)
        return count, total

    deal_id = make(slug, "deal", me, amount="100")
    assert stats() == ("1", "$100.00")
    make(slug, "deal", me, amount="50")
    assert stats() == ("2", "$150.00")
    with db.scope(tenant_ref(slug)):
        from saas.modules.records import service as records
        from saas.modules.records.registry import get

        deal = records.get_record(get("deal"), deal_id)
        records.update(get("deal"), deal, {"amount": "1000"}, actor=me)
    assert stats() == ("2", "$1,050.00")
    post(client, f"/app/{slug}/deals/{deal_id}/delete")
    assert stats() == ("1", "$50.00")
    post(client, f"/app/{slug}/trash/deals/{deal_id}/restore")
    assert stats() == ("2", "$1,050.00")
    assert client.get(f"{url}?owner_id=me").status_code == 200
    with db.scope(tenant_ref(slug)):
        records.transfer(me, other, actor=me)
    page = client.get(f"{url}?owner_id=me").get_data(as_text=True)
    assert "<dd data-count>0</dd>" in _column(page, first)
    page = client.get(f"{url}?owner_id={other}").get_data(as_text=True)
    assert "<dd data-count>2</dd>" in _column(page, first)


def test_totals_table_matches_a_recount_after_any_kind_of_write(client):
    """Triggers keep deal_totals exact, also for bulk SQL the service never sees
    (an import by COPY, a repair script)."""
    from sqlalchemy import text

    from saas.modules.deals.models import DealTotal

    slug, email = signup(client)
    me = user_id(email)
    stages = list(_stages(slug).values())
    for i in range(6):
        make(
            slug,
            "deal",
            me if i % 2 else None,
            stage_id=stages[i % 3],
            amount=str(10 * i),
            probability=str(i * 10),
        )
    recount = (
        "SELECT stage_id, coalesce(owner_id, 0), currency, count(*), coalesce(sum(amount), 0)"
        " FROM {s}.deals WHERE deleted_at IS NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    with db.scope(tenant_ref(slug)) as s:
        schema = f'"{tenant_ref(slug).schema_name}"'
        s.execute(
            text(
                f"UPDATE {schema}.deals SET amount = amount * 2, stage_id = {stages[1]}"
                f" WHERE id % 2 = 0"
            )
        )
        s.execute(text(f"UPDATE {schema}.deals SET deleted_at = now() WHERE id = 3"))
        s.execute(text(f"DELETE FROM {schema}.deals WHERE id = 5"))
    with db.scope(tenant_ref(slug)) as s:
        expected = [tuple(r) for r in s.execute(text(recount.format(s=schema)))]
        kept = [
            (t.stage_id, t.owner_key, t.currency, t.deals, t.amount)
            for t in s.execute(
                select(DealTotal).order_by(
                    DealTotal.stage_id, DealTotal.owner_key, DealTotal.currency
                )
            ).scalars()
        ]
    assert kept == expected and len(expected) >= 2
