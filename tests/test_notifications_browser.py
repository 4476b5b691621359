"""The notification pages in a real browser: a manager's /webhooks (add, masked secret, delivery log, replay)
and a person's own /notifications (e-mail, digest)."""

import json

import pytest
from test_notifications import SECRET, Receiver, verify

from analytics import accounts
from kbserver.db import open_db

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

def sign_in(browser, site, name, role):
    db = open_db(f"sqlite:///{site.data}/kb.db")
    _, password, _ = accounts.create_user(db, name, role)
    db.conn.close()
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(site.url + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.locator("header")).to_contain_text("通知设置")
    return page


def test_a_manager_adds_a_webhook_sees_its_deliveries_and_replays_one(browser, live_site):
    receiver = Receiver([500])
    page = sign_in(browser, live_site, "钱通知", "manager")
    page.goto(live_site.url + "/webhooks")
    page.fill("#hook-url", receiver.url)
    page.fill("#hook-secret", SECRET)
    page.check("input[name=events][value='question.asked']")
    page.click("form[action='/webhooks'] button[type=submit]")
    row = page.locator("#webhooks tbody tr", has_text=receiver.url)
    expect(row).to_contain_text("客户提交问题")
    expect(row).to_contain_text(SECRET[:4] + "…")
    expect(page.locator("body")).not_to_contain_text(SECRET)

    page.request.post(live_site.url + "/api/questions", data=json.dumps({"question": "浏览器测试的问题"}),
                      headers={"Content-Type": "application/json"})
    page.goto(live_site.url + "/webhooks")
    delivery = page.locator("#deliveries tbody tr").first
    for _ in range(40):  # the sender retries the 500 after its 5 s backoff; the page shows each attempt
        if "已送达" in delivery.inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(delivery.locator(".state")).to_have_text("已送达")
    expect(delivery.locator(".attempts")).to_contain_text("HTTP 500")
    expect(delivery.locator(".attempts")).to_contain_text("HTTP 200")
    assert verify(SECRET, receiver.received[-1]["body"], receiver.received[-1]["headers"]["X-KB-Signature"])
    delivery.locator("button", has_text="重新发送").click()
    expect(page.locator("#deliveries tbody tr").first).to_contain_text("重发")
    receiver.shutdown()


def test_a_person_chooses_the_daily_digest_and_a_bad_address_is_refused_in_chinese(browser, live_site):
    page = sign_in(browser, live_site, "孙摘要", "vip")
    page.goto(live_site.url + "/notifications")
    page.fill("#email", "sun@example.com")
    page.check("input[name=mode][value=digest]")
    page.click("form[action='/notifications'] button[type=submit]")
    expect(page.locator("body")).to_contain_text("通知设置已保存")
    expect(page.locator("#email")).to_have_value("sun@example.com")
    expect(page.locator("input[name=mode][value=digest]")).to_be_checked()
    page.evaluate("document.querySelector('#email').type = 'text'")  # past the browser's own check, to the server's
    page.fill("#email", "not-an-address")
    page.click("form[action='/notifications'] button[type=submit]")
    expect(page.locator("body")).to_contain_text("没有保存")
    expect(page.locator("#email")).to_have_value("sun@example.com")
