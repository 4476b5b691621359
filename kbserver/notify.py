"""Notifications from the service: the background sender `kb serve` runs, the webhooks page and API for
managers, and each person's own e-mail/digest preference. The outbox and its rules live in
analytics/notifications.py; this module only moves rows to SMTP and HTTP and shapes pages."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from analytics import accounts, notifications
from indexer.errors import InvalidInput
from indexer.i18n import N_, using

from .auth import require_role
from .db import get_db, open_db
from .delivery import BackgroundWorker, Mailer, post
from .i18n import said_to_people
from .inputs import json_object

log = logging.getLogger(__name__)
bp = Blueprint("notify", __name__)
# Names as the catalogue knows them (N_): pages show them through translated(), in the page's language.
MODE_NAMES = {"instant": N_("即时通知（每件事一封邮件）"), "digest": N_("每日摘要（每天一封）"), "off": N_("不接收邮件")}
EVENT_NAMES = {"*": N_("全部事件"), "submission.submitted": N_("投稿待审核"), "submission.changes_requested": N_("投稿需要修改"),
               "submission.approved": N_("投稿通过审核"), "submission.published": N_("投稿已发布"),
               "submission.rejected": N_("投稿未被采纳"), "flag.opened": N_("新的高分问题标记"), "gap.opened": N_("新的内容缺口"),
               "review.due": N_("文章到期复核"), "question.asked": N_("客户提交问题")}
STATE_NAMES = {"pending": N_("待发送"), "delivered": N_("已送达"), "failed": N_("已放弃"), "cancelled": N_("已取消")}


def translated(names: dict) -> dict:
    """names with each value in the page's language."""
    return {key: gettext(value) for key, value in names.items()}


class NotificationSender(BackgroundWorker):
    """Sends the outbox (e-mails over SMTP, signed webhooks) in `kb serve`'s background, with retries."""

    name = "kb-notifier"

    def __init__(self, settings: dict):
        super().__init__()
        self.database_url, self.tz, self.base_url = settings["database_url"], settings["time_zone"], settings["public_url"]
        self.language = settings["language"]
        self.mailer = Mailer(settings) if settings["smtp_host"] else None

    def notify(self) -> None:
        """Something was recorded: wake the sender if `kb serve` started it (requests never start threads)."""
        if self._thread is not None and self._thread.is_alive():
            self._wake.set()

    def deliver_due(self, now: float | None = None) -> float:
        """One pass; returns seconds until the next delivery is due (at most 60)."""
        db = open_db(self.database_url, migrate=False)
        try:
            with using(self.language):
                counts = notifications.deliver_due(db, self.mailer, post, now=now, tz=self.tz,
                                                   base_url=self.base_url)
            if counts["failed"]:
                log.warning("notifications: %s", counts)
            due = notifications.next_due(db, emails=self.mailer is not None)  # unsendable e-mails wait for SMTP
        finally:
            db.conn.close()
        return 60.0 if due is None else min(60.0, max(0.0, due - time.time()))


def init_app(app) -> None:
    """The sender (started by `kb serve`), woken after every request that may have recorded something."""
    sender = NotificationSender(app.config["KB"])
    app.extensions["kb_notifier"] = sender

    def wake(response):
        if request.method not in ("GET", "HEAD") and response.status_code < 400:
            sender.notify()
        return response

    app.after_request(wake)


# -- API ----------------------------------------------------------------------------------------------------
@bp.get("/api/webhooks")
@require_role("manager")
def api_webhooks():
    """GET /api/webhooks → the webhooks (secrets masked) and the event types there are."""
    return jsonify({"webhooks": notifications.list_webhooks(get_db()), "events": list(notifications.EVENTS)})


@bp.post("/api/webhooks")
@require_role("manager")
def api_webhook_add():
    """POST /api/webhooks {url, events, secret?} → 201; a generated secret is in the answer once."""
    body = json_object()
    hook, generated = notifications.add_webhook(get_db(), body.get("url"), body.get("events"), body.get("secret"),
                                                created_by=g.user["name"])
    return jsonify(hook | ({"secret": generated} if generated else {})), 201


@bp.delete("/api/webhooks/<int:hook_id>")
@require_role("manager")
def api_webhook_remove(hook_id: int):
    """DELETE /api/webhooks/<id> → the webhook stops receiving events (its log stays)."""
    notifications.remove_webhook(get_db(), hook_id)
    return jsonify({"ok": True, "id": hook_id})


@bp.get("/api/webhooks/deliveries")
@require_role("manager")
def api_deliveries():
    """GET /api/webhooks/deliveries → the delivery log, newest first, with every attempt."""
    return jsonify({"deliveries": notifications.deliveries(get_db())})


@bp.post("/api/webhooks/deliveries/<int:delivery_id>/replay")
@require_role("manager")
def api_replay(delivery_id: int):
    """POST /api/webhooks/deliveries/<id>/replay → 201 with the new delivery of the same body."""
    delivery = notifications.replay(get_db(), delivery_id)
    current_app.extensions["kb_notifier"].notify()
    return jsonify(delivery), 201


@bp.get("/api/me/notifications")
@require_role(*accounts.ROLES)
def api_my_notifications():
    """GET /api/me/notifications → {email, mode} of the signed-in account."""
    return jsonify(_preference(accounts.get_contact(get_db(), g.user["id"])))


@bp.put("/api/me/notifications")
@require_role(*accounts.ROLES)
def api_set_my_notifications():
    """PUT /api/me/notifications {email?, mode?} → the preference as saved."""
    body = json_object()
    if "email" not in body and "mode" not in body:
        raise InvalidInput(N_("请发送 email 和/或 mode（instant、digest 或 off）"))
    if "email" in body and body["email"] is None:
        body["email"] = ""
    return jsonify(_preference(accounts.set_contact(get_db(), g.user["id"], body.get("email"), body.get("mode"))))


def _preference(contact: dict) -> dict:
    return {"email": contact["email"], "mode": contact["mode"], "modes": list(accounts.NOTIFY_MODES)}


# -- pages --------------------------------------------------------------------------------------------------
@bp.get("/webhooks")
@require_role("manager")
def webhooks_page(created: dict | None = None):
    """Webhooks, a form to add one, and the delivery log with replay."""
    db = get_db()
    return render_template("webhooks.html", hooks=notifications.list_webhooks(db), log=notifications.deliveries(db, 100),
                           events=translated(EVENT_NAMES), states=translated(STATE_NAMES), created=created), 200, \
        ({"Cache-Control": "no-store"} if created else {})


@bp.post("/webhooks")
@require_role("manager")
def webhooks_add():
    """Add a webhook from the form; a generated secret is shown on the answer, once."""
    try:
        hook, generated = notifications.add_webhook(get_db(), request.form.get("url"), request.form.getlist("events"),
                                                    request.form.get("secret") or None, created_by=g.user["name"])
    except InvalidInput as exc:
        flash(gettext("没有添加：%(error)s", error=said_to_people(exc)), "error")
        return redirect(url_for("notify.webhooks_page"))
    flash(gettext("已添加 Webhook %(url)s。", url=hook["url"]))
    return webhooks_page({"url": hook["url"], "secret": generated} if generated else None)


@bp.post("/webhooks/<int:hook_id>/remove")
@require_role("manager")
def webhooks_remove(hook_id: int):
    """Remove a webhook from the page."""
    notifications.remove_webhook(get_db(), hook_id)
    flash(gettext("已删除该 Webhook，不再向它发送事件（投递记录保留）。"))
    return redirect(url_for("notify.webhooks_page"))


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
@require_role("manager")
def webhooks_replay(delivery_id: int):
    """Send a logged delivery again."""
    delivery = notifications.replay(get_db(), delivery_id)
    current_app.extensions["kb_notifier"].notify()
    flash(gettext("已重新发送（新的投递 #%(n)s）。", n=delivery["id"]))
    return redirect(url_for("notify.webhooks_page"))


@bp.route("/notifications", methods=["GET", "POST"])
@require_role(*accounts.ROLES)
def my_notifications():
    """The signed-in person's e-mail address and instant/digest choice."""
    db = get_db()
    if request.method == "POST":
        try:
            accounts.set_contact(db, g.user["id"], request.form.get("email", ""), request.form.get("mode"))
            flash(gettext("通知设置已保存。"))
        except InvalidInput as exc:
            flash(gettext("没有保存：%(error)s", error=said_to_people(exc)), "error")
        return redirect(url_for("notify.my_notifications"))
    return render_template("notifications.html", contact=accounts.get_contact(db, g.user["id"]), modes=translated(MODE_NAMES),
                           smtp=bool(current_app.config["KB"]["smtp_host"]))
