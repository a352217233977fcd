"""The demo tenant that ``make run`` creates: a small sales team's CRM with realistic
data (some of it in Chinese), written through the service layer so that timelines,
search, stage history, totals and licence keys are what real use would leave.

Seeded random, so every run makes the same records; dates follow today, so the
demo always has tasks due this week, meetings on the calendar and deals closing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from saas.db import db
from saas.modules.accounts import service as accounts
from saas.modules.accounts.models import Membership
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.tenants.models import Tenant
from saas.tenants.service import create_tenant

DEMO_COMPANY = "Demo Trading Co"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-crm-2026"  # noqa: S105 (published on purpose: the local demo login)
TEAM = [
    ("Ada Admin", "admin@example.com", "admin"),
    ("Max Member", "member@example.com", "member"),
    ("李娜", "lina@example.com", "member"),
    ("Rita Reader", "reader@example.com", "readonly"),
]
SIZES = {  # at scale 1
    "accounts": 300, "contacts": 800, "leads": 200, "deals": 250, "activities": 600,
    "products": 20, "quotes": 40, "orders": 15, "contracts": 25,
}  # fmt: skip

FIRST = ["Anna", "Ben", "Carla", "Dana", "Eli", "Fatima", "Georg", "Hana", "Ivan", "Julia",
         "Lena", "Marco", "Nora", "Omar", "Priya", "Sofia", "Tom", "Yuki", "David", "Grace",
         "Jonas", "Laura", "Mia", "Noah", "Paul", "Rosa", "Simon", "Zoe"]  # fmt: skip
LAST = ["Schmidt", "Garcia", "Smith", "Kowalski", "Rossi", "Tanaka", "Müller", "Khan", "Novak",
        "Johnson", "Dubois", "Silva", "Andersson", "Brown", "Martin", "Lee", "Nguyen", "Weber",
        "O'Brien", "Jensen", "Moreau", "Santos", "Fischer", "Clark"]  # fmt: skip
CN_SURNAMES = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
               ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
               ("林", "lin"), ("郭", "guo")]  # fmt: skip
CN_GIVEN = [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("秀英", "xiuying"), ("敏", "min"),
            ("静", "jing"), ("强", "qiang"), ("磊", "lei"), ("洋", "yang"), ("艳", "yan"),
            ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("浩然", "haoran"), ("子涵", "zihan"),
            ("欣怡", "xinyi"), ("建国", "jianguo"), ("志强", "zhiqiang")]  # fmt: skip
TITLES = ["CEO", "CFO", "Head of Purchasing", "Sales Manager", "Office Manager", "IT Manager",
          "Operations Director", "Buyer", "Engineer", "Marketing Lead", "Founder"]  # fmt: skip
CN_TITLES = ["总经理", "采购经理", "销售总监", "财务主管", "技术负责人", "行政经理"]
PLACES = [  # city, region, country
    ("Berlin", "EMEA", "Germany"), ("Munich", "EMEA", "Germany"), ("London", "EMEA", "United Kingdom"),
    ("Paris", "EMEA", "France"), ("Milan", "EMEA", "Italy"), ("Warsaw", "EMEA", "Poland"),
    ("New York", "North America", "United States"), ("Chicago", "North America", "United States"),
    ("Austin", "North America", "United States"), ("Toronto", "North America", "Canada"),
    ("Sydney", "APAC", "Australia"), ("Tokyo", "APAC", "Japan"), ("Singapore", "APAC", "Singapore"),
]  # fmt: skip
CN_PLACES = [("上海", "华东", "中国"), ("北京", "华北", "中国"), ("深圳", "华南", "中国"),
             ("广州", "华南", "中国"), ("杭州", "华东", "中国"), ("成都", "西南", "中国")]  # fmt: skip
ADJ = ["Blue", "Northwind", "Silver", "Golden", "Bright", "Swift", "Prime", "Pacific", "Summit",
       "Pioneer", "Urban", "Alpine", "Coastal", "Evergreen", "Apex", "Vertex", "Nova", "Maple",
       "Cedar", "River", "Iron", "Granite", "Sunrise", "Horizon", "Kestrel", "Globex"]  # fmt: skip
NOUN = ["Harbor", "Peak", "Bridge", "Stone", "Field", "Valley", "Ridge", "Wave", "Star", "Gate",
        "Works", "Forge", "Mill", "Bay", "Line", "Port", "Leaf", "Light", "Fox", "Hawk"]  # fmt: skip
SUFFIX = [("Logistics", "logistics"), ("Trading", "wholesale"), ("Labs", "software"),
          ("Foods", "food"), ("Systems", "software"), ("GmbH", "manufacturing"),
          ("Ltd", "services"), ("Inc", "retail"), ("Partners", "finance"),
          ("Health", "healthcare"), ("Builders", "construction"), ("Academy", "education")]  # fmt: skip
CN_BRANDS = [("晨光", "chenguang"), ("远景", "yuanjing"), ("华信", "huaxin"), ("恒通", "hengtong"),
             ("金桥", "jinqiao"), ("新锐", "xinrui"), ("博源", "boyuan"), ("天合", "tianhe"),
             ("瑞丰", "ruifeng"), ("鼎盛", "dingsheng"), ("嘉禾", "jiahe"), ("海纳", "haina")]  # fmt: skip
CN_TRADES = [("贸易", "trading", "wholesale"), ("科技", "tech", "software"),
             ("物流", "logistics", "logistics"), ("食品", "food", "food"),
             ("机械", "machinery", "manufacturing"), ("医药", "pharma", "healthcare")]  # fmt: skip
PRODUCTS = [  # name, code, category, unit, price, tax %, licensed (software)
    ("CRM Cloud Starter", "CRM-S", "Software", "seat/year", 180, 19, True),
    ("CRM Cloud Professional", "CRM-P", "Software", "seat/year", 420, 19, True),
    ("CRM Cloud Enterprise", "CRM-E", "Software", "seat/year", 960, 19, True),
    ("Analytics Add-on", "ANL", "Software", "seat/year", 240, 19, True),
    ("Mobile Sales App", "MOB", "Software", "seat/year", 90, 19, True),
    ("API Gateway Licence", "API", "Software", "instance/year", 2400, 19, True),
    ("Onboarding Workshop", "SVC-ONB", "Services", "day", 1200, 19, False),
    ("Data Migration", "SVC-MIG", "Services", "project", 4500, 19, False),
    ("Custom Integration", "SVC-INT", "Services", "hour", 150, 19, False),
    ("Premium Support", "SUP-P", "Support", "year", 3000, 19, False),
    ("Standard Support", "SUP-S", "Support", "year", 900, 19, False),
    ("Training Course", "TRN", "Training", "person", 450, 7, False),
    ("Barcode Scanner X2", "HW-SCAN", "Hardware", "piece", 299, 19, False),
    ("Receipt Printer", "HW-PRN", "Hardware", "piece", 189, 19, False),
    ("Tablet Kiosk", "HW-KIO", "Hardware", "piece", 749, 19, False),
    ("POS Terminal", "HW-POS", "Hardware", "piece", 1299, 19, False),
    ("Label Rolls (box)", "SUP-LBL", "Supplies", "box", 35, 19, False),
    ("Extended Warranty", "WAR", "Support", "piece/year", 79, 19, False),
    ("云端CRM专业版", "CRM-CN", "Software", "席位/年", 2800, 6, True),
    ("实施服务", "SVC-CN", "Services", "天", 6000, 6, False),
]  # fmt: skip
DEAL_KINDS = ["Renewal", "Expansion", "New licences", "Pilot", "Support contract", "Upgrade",
              "Hardware refresh", "Annual order"]  # fmt: skip
CN_DEAL_KINDS = ["续约", "扩容", "年度采购", "试点项目"]
# Share of deals per default stage (Qualification … Won, Lost), in stage order.
STAGE_WEIGHTS = [22, 18, 16, 12, 18, 14]
LOST_REASONS = ["price", "competitor", "no_budget", "no_decision", "timing", "features"]
COMPETITORS = ["Salesforce", "HubSpot", "Zoho", "Pipedrive", "Odoo", "纷享销客"]
LEAD_SOURCES = ["web", "referral", "event", "ads", "partner", "cold_call", "email", "other"]
LEAD_STATUSES = ["new"] * 5 + ["contacted"] * 4 + ["qualified"] * 3 + ["unqualified"] * 2
TASKS = ["Send proposal", "Follow up on quote", "Prepare demo", "Check contract terms",
         "Update forecast", "Send case study", "Confirm delivery date", "准备报价单",
         "Chase signed order form", "Book onboarding workshop"]  # fmt: skip
CALLS = ["Discovery call", "Pricing call", "Check-in call", "Renewal call", "电话回访"]
MEETINGS = ["Product demo", "Quarterly review", "Kick-off meeting", "Negotiation meeting",
            "Site visit", "客户拜访"]  # fmt: skip
NOTES = ["Prefers e-mail over phone. Decision expected after budget meeting.",
         "Using a competitor today; contract ends in spring.",
         "Asked for a discount on 50+ seats.", "客户对移动端功能很感兴趣，下周安排演示。",
         "Champion is the head of purchasing; CFO signs above 20k.",
         "Needs invoices in EUR and a German-language contract."]  # fmt: skip


@dataclass
class _Demo:
    rng: random.Random
    actor: int
    sellers: list[int]  # who owns records: the owner, admin and members
    now: datetime
    accounts: list = field(default_factory=list)
    contacts: dict[int, list] = field(default_factory=dict)  # account id -> contacts
    deals: list = field(default_factory=list)
    leads: list = field(default_factory=list)
    products: list = field(default_factory=list)
    licensed: list = field(default_factory=list)  # software products: they get licence keys

    def owner(self) -> int:
        return self.rng.choice(self.sellers)

    def day(self, low: int, high: int) -> date:
        return (self.now + timedelta(days=self.rng.randint(low, high))).date()

    def at(self, low_days: int, high_days: int, hours=(8, 17)) -> datetime:
        """A working-hours time between ``low_days`` and ``high_days`` from today."""
        day = self.day(low_days, high_days)
        moment = time(self.rng.randint(*hours), self.rng.choice((0, 15, 30, 45)))
        return datetime.combine(day, moment, UTC)


def create_demo(scale: float = 1.0) -> bool:
    """Create the demo tenant once; returns False if it already exists.

    ``scale`` multiplies the record counts (tests use a small one).
    """
    with db.scope() as session:
        if session.execute(select(Tenant).where(Tenant.name == DEMO_COMPANY)).first():
            return False
        owner = accounts.user_by_email(DEMO_EMAIL) or accounts.create_user(
            "Demo Owner", DEMO_EMAIL, DEMO_PASSWORD
        )
        tenant = create_tenant(DEMO_COMPANY, owner)
        sellers = [owner.id]
        for name, email, role in TEAM:
            user = accounts.user_by_email(email) or accounts.create_user(name, email, DEMO_PASSWORD)
            session.add(Membership(tenant_id=tenant.id, user_id=user.id, role=role))
            if role != "readonly":
                sellers.append(user.id)
        ref = tenant.ref()
    sizes = {k: max(1, round(v * scale)) for k, v in SIZES.items()}
    sizes["products"] = SIZES["products"]  # a catalogue does not shrink with the demo
    d = _Demo(random.Random(2026), owner.id, sellers, datetime.now(UTC))
    from saas.modules.notifications.service import muted

    with db.scope(ref), muted():  # sample data is nobody's news: no "assigned to you" flood
        _teams(d)
        _products(d, sizes["products"])
        _accounts(d, sizes["accounts"])
        _contacts(d, sizes["contacts"])
        _deals(d, sizes["deals"])
        _leads(d, sizes["leads"])
        _activities(d, sizes["activities"])
        _quotes_and_orders(d, sizes["quotes"], sizes["orders"])
        _contracts(d, sizes["contracts"])
        _customization()
    return True


def _customization() -> None:
    """Two custom fields an admin would add first, filled on the sample records."""
    from sqlalchemy import text

    from saas.db import session
    from saas.modules.customization import ddl
    from saas.modules.customization import service as fields

    for object_name, label, values in (
        ("contact", "Preferred channel", ("E-mail", "Phone", "WeChat", "In person")),
        ("deal", "Lead source", ("Web site", "Referral", "Trade fair", "Cold call", "Partner")),
    ):
        otype = get(object_name)
        cf = fields.add_field(
            otype,
            {"label": label, "type": "choice", "choices": "\n".join(values),
             "indexed": "on", "in_list": "on"},
        )  # fmt: skip
        keys = [key for key, _label in cf.options["choices"]]
        session().execute(
            text(
                f"UPDATE {ddl.table_name(otype)} SET {cf.name} ="
                f" (CAST(:keys AS text[]))[1 + id % {len(keys)}]"
            ),
            {"keys": keys},
        )


def _teams(d: _Demo) -> None:
    from saas.modules.teams import service as teams

    inside = teams.create_team("Inside Sales", actor=d.actor, round_robin=True)
    key = teams.create_team("Key Accounts", actor=d.actor)
    for i, user_id in enumerate(d.sellers):
        teams.add_member(inside if i % 2 else key, user_id, actor=d.actor)


def _products(d: _Demo, n: int) -> None:
    for name, code, category, unit, price, tax, licensed in PRODUCTS[:n]:
        product = records.create(
            get("product"),
            {
                "name": name,
                "code": code,
                "category": category,
                "unit": unit,
                "unit_price": str(price),
                "currency": "CNY" if code.endswith("-CN") else "USD",
                "tax_rate": str(tax),
                "active": True,
            },
            actor=d.actor,
        )
        d.products.append(product)
        if licensed:
            d.licensed.append(product)


def _company(d: _Demo, taken: set[str]) -> dict:
    rng = d.rng
    while True:
        if rng.random() < 0.15:
            city, region, country = rng.choice(CN_PLACES)
            brand, pinyin = rng.choice(CN_BRANDS)
            trade, trade_en, industry = rng.choice(CN_TRADES)
            name = f"{city}{brand}{trade}有限公司"
            website = f"https://www.{pinyin}-{trade_en}.cn"
            phone = f"+86 {rng.choice(('21', '10', '755', '20'))} {rng.randint(10**7, 10**8 - 1)}"
        else:
            city, region, country = rng.choice(PLACES)
            suffix, industry = rng.choice(SUFFIX)
            adj, noun = rng.choice(ADJ), rng.choice(NOUN)
            name = f"{adj} {noun} {suffix}"
            website = f"https://www.{adj.lower()}{noun.lower()}.com"
            phone = f"+1 555 {rng.randint(1000000, 9999999)}"
        if name not in taken:
            taken.add(name)
            return {"name": name, "website": website, "phone": phone, "city": city,
                    "region": region, "country": country, "industry": industry}  # fmt: skip


def _accounts(d: _Demo, n: int) -> None:
    rng, taken = d.rng, set()
    for i in range(n):
        values = _company(d, taken)
        values |= {
            "size": rng.choice(("1-10", "11-50", "11-50", "51-200", "201-1000", "1000+")),
            "lifecycle_stage": rng.choice(
                ("prospect", "customer", "customer", "partner", "former")
            ),
            "key_account": rng.random() < 0.08,
            "owner_id": d.owner(),
        }
        if i > 20 and rng.random() < 0.05:  # a subsidiary of an earlier account
            values["parent_id"] = rng.choice(d.accounts[:20]).id
        d.accounts.append(records.create(get("account"), values, actor=d.actor))


def _person(d: _Demo, chinese: bool) -> tuple[str, str, str]:
    """(first name, last name, e-mail local part)."""
    if chinese:
        (last, last_py), (first, first_py) = d.rng.choice(CN_SURNAMES), d.rng.choice(CN_GIVEN)
        return first, last, f"{first_py}.{last_py}"
    first, last = d.rng.choice(FIRST), d.rng.choice(LAST)
    local = f"{first}.{last}".lower().replace("'", "").replace("ü", "ue")
    return first, last, local


def _contacts(d: _Demo, n: int) -> None:
    rng = d.rng
    for i in range(n):
        account = d.accounts[i % len(d.accounts)] if rng.random() < 0.95 else None
        chinese = bool(account and account.country == "中国") or rng.random() < 0.03
        first, last, local = _person(d, chinese)
        domain = account.domain if account and account.domain else rng.choice(
            ("gmail.com", "outlook.com", "qq.com" if chinese else "yahoo.com")
        )  # fmt: skip
        values = {
            "first_name": first,
            "last_name": last,
            "account_id": account.id if account else None,
            "title": rng.choice(CN_TITLES if chinese else TITLES),
            "email": f"{local}{rng.randint(1, 99) if rng.random() < 0.3 else ''}@{domain}",
            "phone": account.phone if account else f"+1 555 {rng.randint(1000000, 9999999)}",
            "mobile": (
                f"+86 138 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
                if chinese
                else f"+1 917 {rng.randint(1000000, 9999999)}"
            ),  # fmt: skip
            "city": account.city if account else rng.choice(PLACES)[0],
            "country": account.country if account else None,
            "owner_id": account.owner_id if account else d.owner(),
        }
        if rng.random() < 0.4:
            values["birthday"] = date(
                rng.randint(1960, 1998), rng.randint(1, 12), rng.randint(1, 28)
            )
        if account and account.lifecycle_stage == "customer":
            values["customer_since"] = d.day(-1500, -30)
        contact = records.create(get("contact"), values, actor=d.actor)
        d.contacts.setdefault(contact.account_id, []).append(contact)


def _deals(d: _Demo, n: int) -> None:
    from saas.modules.deals import service as deals

    rng = d.rng
    stages = deals.stages(deals.default_pipeline().id)
    for _ in range(n):
        account = rng.choice(d.accounts)
        people = d.contacts.get(account.id) or [None]
        chinese = account.country == "中国"
        stage = rng.choices(stages, weights=STAGE_WEIGHTS[: len(stages)])[0]
        closed = stage.kind != "open"
        values = {
            "name": f"{account.name} - {rng.choice(CN_DEAL_KINDS if chinese else DEAL_KINDS)}",
            "account_id": account.id,
            "contact_id": (rng.choice(people).id if people[0] else None),
            "amount": str(rng.choice((500, 1000, 2500)) * rng.randint(2, 60)),
            "currency": "CNY" if chinese else rng.choice(("USD",) * 8 + ("EUR", "GBP")),
            "close_date": d.day(-200, -1) if closed else d.day(-10, 120),
            "source": rng.choice(("web", "referral", "event", "partner", "cold_call")),
            "owner_id": account.owner_id,
        }
        if rng.random() < 0.3:
            values["competitors"] = rng.sample(COMPETITORS, rng.randint(1, 2))
        # Most deals start earlier in the pipeline and were moved: stage history.
        first = stages[0] if closed or rng.random() < 0.5 else stage
        deal = records.create(get("deal"), values | {"stage_id": first.id}, actor=d.actor)
        if first.id != stage.id:
            if stage.position > 1 and stage.kind == "open":
                deals.move(deal, stages[1].id, actor=deal.owner_id)
            lost = rng.choice(LOST_REASONS) if stage.kind == "lost" else None
            deals.move(deal, stage.id, actor=deal.owner_id, lost_reason=lost)
        d.deals.append(deal)


def _leads(d: _Demo, n: int) -> None:
    rng, taken = d.rng, {a.name for a in d.accounts}
    for _ in range(n):
        existing = rng.random() < 0.1  # someone new at a company we already know
        company = rng.choice(d.accounts) if existing else None
        values = _company(d, taken) if company is None else {"name": company.name}
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in values["name"])
        first, last, local = _person(d, chinese)
        domain = (company.domain if company else None) or values.get("website", "").split("www.")[
            -1
        ]
        lead = records.create(
            get("lead"),
            {
                "first_name": first,
                "last_name": last,
                "company": values["name"],
                "title": rng.choice(CN_TITLES if chinese else TITLES),
                "email": f"{local}@{domain or 'gmail.com'}",
                "phone": values.get("phone") or (company.phone if company else None),
                "website": values.get("website") or (company.website if company else None),
                "source": rng.choice(LEAD_SOURCES),
                "status": rng.choice(LEAD_STATUSES),
                "rating": rng.choice(("hot", "warm", "warm", "cold", "cold")),
                "owner_id": d.owner(),
            },
            actor=d.actor,
        )
        d.leads.append(lead)
    _convert_leads(d)


def _convert_leads(d: _Demo) -> None:
    try:
        from saas.modules.leads.service import convert
    except ImportError:  # the leads module has no conversion yet
        return
    qualified = [lead for lead in d.leads if lead.status == "qualified"]
    for i, lead in enumerate(qualified[: max(1, len(d.leads) // 8)]):
        result = convert(
            lead,
            create_deal=i % 3 != 2,
            deal_amount=str(d.rng.randint(5, 80) * 500),
            actor=lead.owner_id,
        )
        if result["deal"] is not None:
            d.deals.append(result["deal"])


def _related(d: _Demo):
    """(object name, record) an activity is about: mostly deals and contacts."""
    kind = d.rng.choices(("deal", "contact", "account", "lead"), weights=(45, 30, 15, 10))[0]
    pool = {"deal": d.deals, "account": d.accounts, "lead": d.leads}.get(kind)
    if kind == "contact":
        pool = [c for people in d.contacts.values() for c in people]
    return kind, d.rng.choice(pool)


def _activities(d: _Demo, n: int) -> None:
    rng, atype = d.rng, get("activity")
    kinds = rng.choices(("task", "call", "meeting", "email", "note"), (35, 25, 20, 10, 10), k=n)
    for kind in kinds:
        related_object, record = _related(d)
        owner = getattr(record, "owner_id", None) or d.owner()
        if kind == "task":  # due around today: some overdue, most this or next week
            due = d.at(-10, 14)
            values = {"subject": rng.choice(TASKS), "due_at": due, "done": due < d.now and rng.random() < 0.6,
                      "priority": rng.choice(("high", "normal", "normal", "low"))}  # fmt: skip
            if due > d.now and rng.random() < 0.3:
                values["remind_at"] = due - timedelta(hours=1)
        elif kind == "call":
            due = d.at(-30, 5)
            values = {"subject": rng.choice(CALLS), "due_at": due, "done": due < d.now,
                      "body": rng.choice(NOTES) if due < d.now else None}  # fmt: skip
        elif kind == "meeting":  # this week and the next few
            start = d.at(-3, 21, hours=(9, 16))
            values = {"subject": rng.choice(MEETINGS), "due_at": start, "done": start < d.now,
                      "end_at": start + timedelta(minutes=rng.choice((30, 60, 90)))}  # fmt: skip
        elif kind == "email":
            due = d.at(-20, 0)
            values = {"subject": f"Re: {rng.choice(TASKS)}", "due_at": due, "done": True,
                      "body": rng.choice(NOTES)}  # fmt: skip
        else:
            note = rng.choice(NOTES)
            values = {"subject": note.split(".")[0][:120], "body": note, "done": True}
        values = records.validate(atype, values | {"kind": kind, "owner_id": owner}, partial=True)
        values |= {"related_object": related_object, "related_id": record.id}
        records.create(atype, values, actor=d.actor, trusted=True)


def _quotes_and_orders(d: _Demo, n_quotes: int, n_orders: int) -> None:
    from saas.modules.sales import service as sales

    try:
        from saas.modules.sales.orders import change_status, create_order
    except ImportError:  # no orders yet: quotes only
        change_status = create_order = None
    rng = d.rng
    deals = [deal for deal in d.deals if deal.account_id] or d.deals
    ordered = 0
    for i in range(n_quotes):
        deal = rng.choice(deals)
        orderable = create_order is not None and ordered < n_orders and i % 2 == 0
        quote = records.create(
            get("quote"),
            {
                "subject": deal.name,
                "account_id": deal.account_id,
                "contact_id": deal.contact_id,
                "deal_id": deal.id,
                "status": "accepted" if orderable else rng.choice(("draft", "sent", "rejected")),
                "valid_until": d.day(-20, 45),
                "currency": deal.currency,
                "owner_id": deal.owner_id,
            },
            actor=d.actor,
        )
        products = [p for p in d.products if p.currency == deal.currency] or d.products
        for product in rng.sample(products, min(len(products), rng.randint(1, 4))):
            line = {"product_id": str(product.id), "quantity": str(rng.choice((1, 2, 5, 10, 25)))}
            if rng.random() < 0.3:
                line["discount_pct"] = str(rng.choice((5, 10, 15)))
            sales.add_line(quote, line, actor=deal.owner_id)
        if orderable:
            order = create_order(quote, actor=deal.owner_id)
            ordered += 1
            steps = rng.choice((["confirm"], ["confirm", "ship"], ["confirm", "ship", "deliver"]))
            for step in steps:
                change_status(order, step, actor=deal.owner_id)


def _contracts(d: _Demo, n: int) -> None:
    from saas.modules.contracts import service as contracts

    rng = d.rng
    customers = [a for a in d.accounts if a.lifecycle_stage == "customer"] or d.accounts
    licensed = d.licensed or d.products
    for account in rng.sample(customers, min(n, len(customers))):
        start = d.day(-700, -10).replace(day=rng.randint(1, 28))  # no 29 February
        years = rng.choice((1, 1, 2, 3))
        end = start.replace(year=start.year + years) - timedelta(days=1)
        people = d.contacts.get(account.id) or [None]
        contract = records.create(
            get("contract"),
            {
                "name": f"{account.name} - {'Subscription' if years == 1 else 'Master agreement'}",
                "account_id": account.id,
                "contact_id": people[0].id if people[0] else None,
                "status": "active" if end >= d.now.date() else "expired",
                "start_date": start,
                "end_date": end,
                "value": str(rng.randint(4, 120) * 1000),
                "currency": "CNY" if account.country == "中国" else "USD",
                "renewal_notice_days": rng.choice((30, 60, 90)),
                "owner_id": account.owner_id,
            },
            actor=d.actor,
        )
        for product in rng.sample(licensed, min(len(licensed), rng.randint(1, 2))):
            contracts.issue_licence(
                {"product_id": str(product.id), "seats": str(rng.choice((5, 10, 25, 50, 100)))},
                actor=account.owner_id,
                contract=contract,
            )
