"""English and Simplified Chinese: the language a visitor gets, the Chinese pages, the
tenant's money and date formats, and a catalogue that translates every marked string."""

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from saas.db import db
from tests.conftest import post, signup
from tests.factories import make, tenant_ref, user_id

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "saas/translations/zh/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _settings(slug: str, email: str, **values) -> None:
    from saas.modules.workspace.service import update_settings

    with db.scope(tenant_ref(slug)):
        update_settings(user_id(email), **values)


def _chinese_tenant(client, **settings) -> str:
    slug, email = signup(client)
    _settings(slug, email, locale="zh", **settings)
    return slug


def _page(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True)


def test_the_compiled_catalogue_is_current():
    # `make install` (and so `make run` / `make test`) compiles it; pytest alone does not.
    assert MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime, (
        "saas/translations/zh/LC_MESSAGES/messages.mo is missing or older than its .po: "
        "run `make install`"
    )


def test_a_chinese_tenant_sees_chinese_navigation_lists_and_forms(client):
    slug = _chinese_tenant(client)
    home = _page(client, f"/app/{slug}/")
    assert 'lang="zh-Hans"' in home
    for word in ("首页", "线索", "客户", "联系人", "商机", "活动", "报价单", "回收站", "退出登录"):
        assert word in home, word
    assert "Recycle bin" not in home and "Sign out" not in home

    make(slug, "account", name="北京星辰科技有限公司", industry="software")
    listing = _page(client, f"/app/{slug}/accounts/")
    assert "北京星辰科技有限公司" in listing
    assert "名称" in listing and "负责人" in listing and ">导出<" in listing and ">导入<" in listing
    assert "软件" in listing  # a choice's label, not its key
    assert ">Export<" not in listing and ">Import<" not in listing and ">Name<" not in listing

    form = _page(client, f"/app/{slug}/accounts/new")
    assert "新建客户" in form
    for label in ("名称", "行业", "生命周期阶段", "重点客户", "上级客户"):
        assert label in form, label
    assert "制造业" in form  # the options of a picklist


def test_a_chinese_tenant_gets_validation_errors_in_chinese(client):
    slug = _chinese_tenant(client)
    resp = post(client, f"/app/{slug}/accounts/new", {"name": "", "website": "not a site"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "名称为必填项。" in page
    assert "网站：请输入网址，例如 example.com。" in page
    assert "is required" not in page

    resp = post(client, f"/app/{slug}/deals/new", {"name": "大单", "amount": "很多"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "金额：请输入数字，例如 1250.50。" in page


def test_the_language_switch_holds_for_the_browser_session(client, make_client):
    slug, email = signup(client)
    page = _page(client, f"/app/{slug}/contacts/")
    assert "Recycle bin" in page and 'lang="en"' in page

    resp = post(client, "/language", {"lang": "zh", "next": f"/app/{slug}/contacts/"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/app/{slug}/contacts/")
    page = _page(client, f"/app/{slug}/contacts/")
    assert "回收站" in page and "联系人" in page and "Recycle bin" not in page

    # Another browser of the same user keeps the company's language.
    other = make_client()
    post(other, "/login", {"email": email, "password": "correct-horse-battery"})
    assert "Recycle bin" in _page(other, f"/app/{slug}/contacts/")

    # A Chinese company's member may choose English for the session, and unknown codes
    # change nothing.
    _settings(slug, email, locale="zh")
    assert "回收站" in _page(other, f"/app/{slug}/contacts/")
    post(other, "/language", {"lang": "en", "next": f"/app/{slug}/"})
    assert "Recycle bin" in _page(other, f"/app/{slug}/contacts/")
    post(other, "/language", {"lang": "xx", "next": f"/app/{slug}/"})
    assert "Recycle bin" in _page(other, f"/app/{slug}/contacts/")


def test_an_english_tenant_stays_english_whatever_the_browser_prefers(client):
    slug, _ = signup(client)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    page = _page(client, f"/app/{slug}/deals/")
    assert "Recycle bin" in page and "Deals" in page and "回收站" not in page
    # Outside a company (sign-in page), the browser's preference decides.
    visitor = client.application.test_client()
    visitor.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    assert "忘记密码？" in _page(visitor, "/login")
    visitor.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    assert "Forgot your password?" in _page(visitor, "/login")


def test_public_pages_and_their_errors_follow_the_chosen_language(make_client):
    visitor = make_client()
    post(visitor, "/language", {"lang": "zh", "next": "/signup"})
    page = _page(visitor, "/signup")
    assert "创建贵公司的 CRM" in page and "公司名称" in page and "工作邮箱" in page
    resp = post(visitor, "/signup", {"company": "", "name": "", "email": "x", "password": "short"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "请输入公司名称。" in page and "请输入您的姓名。" in page
    assert "请输入有效的电子邮件地址" in page and "至少使用 10 个字符。" in page
    resp = post(visitor, "/login", {"email": "nobody@example.com", "password": "wrong"})
    assert "电子邮件或密码不正确。请检查后重试。" in resp.get_data(as_text=True)


def test_money_and_dates_follow_the_tenant_settings(client):
    slug = _chinese_tenant(
        client, currency="CNY", date_format="DD/MM/YYYY", timezone="Asia/Shanghai"
    )
    make(slug, "deal", name="星辰年度合同", amount="1234.5", currency="CNY")
    make(slug, "product", name="星辰软件", unit_price="12.5")  # priced in the tenant's currency
    make(slug, "contract", name="星辰服务合同", start_date="2026-03-31")
    make(slug, "activity", subject="回访", due_at="2026-03-31T23:30:00+00:00")

    assert "¥1,234.50" in _page(client, f"/app/{slug}/deals/")
    assert "¥12.50" in _page(client, f"/app/{slug}/products/")
    assert "31/03/2026" in _page(client, f"/app/{slug}/contracts/")
    # 23:30 UTC is 07:30 the next morning in Shanghai.
    assert "01/04/2026 07:30" in _page(client, f"/app/{slug}/activities/")


def test_an_english_tenant_formats_the_same_values_its_own_way(client):
    slug, email = signup(client)
    _settings(slug, email, currency="EUR", timezone="America/New_York")
    make(slug, "deal", name="Annual", amount="1234.5", currency="CNY")
    make(slug, "product", name="Widget", unit_price="12.5")
    make(slug, "contract", name="Service", start_date="2026-03-31")
    make(slug, "activity", subject="Call back", due_at="2026-03-31T23:30:00+00:00")

    assert "CN¥1,234.50" in _page(client, f"/app/{slug}/deals/")
    assert "€12.50" in _page(client, f"/app/{slug}/products/")
    assert "2026-03-31" in _page(client, f"/app/{slug}/contracts/")
    assert "2026-03-31 19:30" in _page(client, f"/app/{slug}/activities/")


def _catalogue():
    with PO.open("rb") as fh:
        return read_po(fh)


def test_every_message_in_the_catalogue_has_a_chinese_translation():
    catalogue = _catalogue()
    assert catalogue.num_plurals == 1  # Chinese has one plural form
    problems = []
    messages = [m for m in catalogue if m.id]
    for m in messages:
        strings = m.string if isinstance(m.id, tuple) else (m.string,)
        source = m.id if isinstance(m.id, tuple) else (m.id,)
        if m.fuzzy or not all(strings):
            problems.append(f"untranslated: {m.id!r}")
        elif any(
            sorted(PLACEHOLDER.findall(s)) != sorted(PLACEHOLDER.findall(source[-1]))
            for s in strings
        ):
            problems.append(f"placeholders differ: {m.id!r}")
    assert not problems, "\n".join(problems)
    assert len(messages) > 400


def test_every_marked_string_in_the_code_is_in_the_catalogue():
    """`make translations` was run after the last string was added or changed."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(["_l", "lazy_gettext", "lazy_pgettext:1c,2"]))
    in_code = {
        (context, message)
        for _file, _line, message, _comments, context in extract_from_dir(
            str(ROOT),
            method_map,
            options_map,
            keywords=keywords,
            directory_filter=lambda path: (
                Path(path).relative_to(ROOT).parts[0] in {"saas", "templates"}
            ),
        )
    }
    catalogue = _catalogue()
    missing = [message for context, message in in_code if catalogue.get(message, context) is None]
    assert not missing, (
        f"not in the catalogue (run `make translations`): {sorted(missing, key=str)}"
    )


def test_translated_messages_escape_what_the_user_typed(client):
    slug = _chinese_tenant(client)
    resp = post(client, f"/app/{slug}/contacts/new", {"last_name": "X", "account_id": "<b>x</b>"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "客户：没有名为“&lt;b&gt;x&lt;/b&gt;”的客户。" in page and "<b>x</b>" not in page


def test_a_company_signed_up_in_chinese_starts_in_chinese(client, make_client):
    """The language of the sign-up page becomes the company's: its pages, its pipeline's
    stage names, its currency and time zone."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    slug, _ = signup(client)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the company's setting wins now
    board = client.get(f"/app/{slug}/deals/board").get_data(as_text=True)
    assert "资格确认" in board and "商务谈判" in board and "Qualification" not in board
    assert "¥0.00" in board
    settings = client.get(f"/app/{slug}/settings").get_data(as_text=True)
    assert '<option selected value="CNY">' in settings
    assert '<option selected value="Asia/Shanghai">' in settings
    # A company signed up in English keeps English names.
    other = make_client()
    english = signup(other)[0]
    assert "Qualification" in other.get(f"/app/{english}/deals/board").get_data(as_text=True)
