"""Every setting kb has, declared once: name, default, environment variable and help text.

The CLI turns each into a flag (``--data``) that also reads its variable (``KB_DATA``);
``create_app`` takes the same names as a dict. ``tests/test_docs.py`` fails when one is missing
from the README.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import InvalidInput
from indexer.i18n import LANGUAGES, N_


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    env: str
    help: str
    type: type = str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS = [
    Setting("docs", "docs", "KB_DOCS", N_("要构建和建索引的 Markdown 文章（.md、.mdx）所在的文件夹。")),
    Setting("data", "data", "KB_DATA", N_("存放搜索索引、事件数据库和构建好的网站的文件夹。")),
    Setting("database_url", "", "KB_DATABASE_URL",
            N_("数据库地址：sqlite:///<data>/kb.db（默认）或 postgresql://user:password@host:5432/db。")),
    Setting("host", "127.0.0.1", "KB_HOST", N_("`kb serve` 监听的地址。")),
    Setting("port", 8000, "KB_PORT", N_("`kb serve` 监听的端口。"), int),
    Setting("threads", 8, "KB_THREADS", N_("WSGI 服务器的工作线程数。"), int),
    Setting("mkdocs_config", "", "KB_MKDOCS_CONFIG", N_("网站使用的 MkDocs 配置文件；默认用 kb 自带的 mkdocs.yml。")),
    Setting("site_workers", 2, "KB_SITE_WORKERS",
            N_("完整构建时渲染网站页面的进程数（`kb build`，以及网站过期时的 `kb serve`）。"), int),
    Setting("cache_size", 4096, "KB_CACHE_SIZE", N_("每个索引版本在内存中缓存的搜索结果条数（0 表示不缓存）。"), int),
    Setting("analyze_every", 60, "KB_ANALYZE_EVERY",
            N_("`kb serve` 中两次分析之间相隔的分钟数（0：不自动分析）。"), int),
    Setting("change_poll", 1, "KB_CHANGE_POLL",
            N_("节点查看变更记录的间隔秒数（同一数据库上其他 `kb serve` 节点做的发布、编辑、同义词等变更）；0：关闭"
               "（单节点）。"), int),
    Setting("secret_key", "", "KB_SECRET_KEY",
            N_("给登录会话签名的密钥；默认自动生成一次并保存到 <data>/secret.key。建议用环境变量设置：命令行参数在 `"
               "ps` 中对本机所有用户可见。")),
    Setting("period", 7, "KB_PERIOD", N_("每个分析周期的天数；趋势比较最近两个周期。"), int),
    Setting("click_window", 300, "KB_CLICK_WINDOW", N_("搜索后多少秒内的点击算作这次搜索的点击。"), int),
    Setting("reformulation_window", 120, "KB_REFORMULATION_WINDOW",
            N_("多少秒内没有点击就再次搜索，算作改换说法。"), int),
    Setting("vote_window", 1800, "KB_VOTE_WINDOW", N_("点击后多少秒内的「没帮助」投票算这次搜索失败。"), int),
    Setting("escalation_window", 86400, "KB_ESCALATION_WINDOW",
            N_("一个搜索会话最后一次搜索后的多少秒内，如果同一会话向支持团队提问，或通过客服工单链接访问，就不算自助"
               "解决。"), int),
    Setting("semantic_model", "use", "KB_SEMANTIC_MODEL",
            N_("语义搜索阶段使用的句向量模型：use（多语言，离线）或 off（只用关键词）。")),
    Setting("secure_cookies", False, "KB_SECURE_COOKIES",
            N_("给会话 Cookie 加上 Secure 标记（只通过 HTTPS 发送）；kb 通过 HTTPS 提供服务时请打开。"), bool),
    Setting("event_durability", "process", "KB_EVENT_DURABILITY",
            N_("已确认的事件能经受住什么：'process'（kill -9、内存不足被杀：回应前已写入操作系统）或 'power'（连断电"
               "也不丢：回应前已 fsync，较慢）。")),
    Setting("time_zone", "Asia/Shanghai", "KB_TIME_ZONE",
            N_("页面上显示时间所用的时区（IANA 名称，例如 Asia/Shanghai、Europe/Berlin、UTC）；存储的时间仍是 UTC。")),
    Setting("language", "zh", "KB_LANGUAGE",
            N_("后台、邮件和分析建议使用的语言：zh 或 en。公开页面在浏览器的 Accept-Language 是 zh 或 en 时跟随浏览"
               "器，否则用这个设置。")),
    Setting("access_log", False, "KB_ACCESS_LOG",
            N_("每个请求向标准输出打印一行通用日志格式的记录（地址、用户、时间、请求、状态、字节数）。"), bool),
    Setting("connection_limit", 1000, "KB_CONNECTION_LIMIT",
            N_("`kb serve` 同时接受的客户端连接数；更多的连接在监听队列中等待。"), int),
    Setting("idle_timeout", 30, "KB_IDLE_TIMEOUT", N_("空闲的客户端连接保持打开的秒数。"), int),
    Setting("request_timeout", 30, "KB_REQUEST_TIMEOUT",
            N_("客户端发送完整个请求（请求头和请求体）的时限秒数，超时即断开。"), int),
    Setting("trusted_proxy", "", "KB_TRUSTED_PROXY",
            N_("可信反向代理的地址，只相信它发来的 X-Forwarded-For/-Proto/-Host/-Port 请求头（'*'：任何地址）。")),
    Setting("password_hash_cost", 64, "KB_PASSWORD_HASH_COST",
            N_("每次 Argon2id 密码哈希使用的内存 MiB 数（3 轮）；64 是 RFC 9106 的推荐值；只在测试中调低。"), int),
    Setting("password_checks", 2, "KB_PASSWORD_CHECKS",
            N_("每个进程同时校验的登录数；超出的登录立即得到 503，这样大量登录请求拖不垮搜索。"), int),
    Setting("refusal_delay", 1, "KB_REFUSAL_DELAY",
            N_("被回应 429 或 503 的地址，下一次同类请求要等待的秒数（由定时器等待，不占工作线程），这样不理会 Retry"
               "-After 的客户端也刷不起来；0，或在可信代理之后：不等待。"), int),
    Setting("login_window", 900, "KB_LOGIN_WINDOW", N_("统计登录失败次数以锁定账号的时间窗口秒数。"), int),
    Setting("login_failures_account", 10, "KB_LOGIN_FAILURES_ACCOUNT",
            N_("在时间窗口内一个账号（不论来自哪里）登录失败多少次后被锁定（429）。"), int),
    Setting("login_failures_address", 50, "KB_LOGIN_FAILURES_ADDRESS",
            N_("在时间窗口内一个客户端地址（不论登录哪个账号）登录失败多少次后被锁定（429）。"), int),
    Setting("click_min_clients", 3, "KB_CLICK_MIN_CLIENTS",
            N_("一篇文章要有多少个不同的客户端针对同一查询点击并停留，才会在这个查询下排得更靠前。"), int),
    Setting("click_half_life", 30, "KB_CLICK_HALF_LIFE", N_("停留的点击在点击重排中权重减半所需的天数。"), int),
    Setting("session_hours", 12, "KB_SESSION_HOURS",
            N_("一次登录保持有效的小时数；退出、重置密码或停用账号会立即结束它。"), int),
    Setting("verify_after_searches", 30, "KB_VERIFY_AFTER_SEARCHES",
            N_("已修复的缺口的查询又被搜索多少次后，分析会判断修复是否有效（已验证或重新打开）。"), int),
    Setting("verify_after_days", 14, "KB_VERIFY_AFTER_DAYS",
            N_("修复后多少天，即使搜索次数不够，分析也会判断修复是否有效。"), int),
    Setting("ask_webhook_url", "", "KB_ASK_WEBHOOK_URL",
            N_("每个客户问题（提交问题）以 JSON 形式 POST 到的客服系统地址，在后台发送并自动重试；留空：问题只保存并"
               "显示在 /questions。")),
    Setting("smtp_host", "", "KB_SMTP_HOST", N_("发送通知邮件的 SMTP 服务器；留空：不发邮件（webhook 照常工作）。")),
    Setting("smtp_port", 25, "KB_SMTP_PORT", N_("SMTP 服务器的端口（25，或配合 --smtp-starttls 用 587）。"), int),
    Setting("smtp_user", "", "KB_SMTP_USER", N_("SMTP 认证的用户名；留空：不认证。")),
    Setting("smtp_password", "", "KB_SMTP_PASSWORD",
            N_("SMTP 认证的密码。建议用环境变量设置：命令行参数在 `ps` 中对本机所有用户可见。")),
    Setting("smtp_from", "", "KB_SMTP_FROM", N_("通知邮件的发件人地址，例如 帮助中心 <kb@example.com>。")),
    Setting("public_url", "", "KB_PUBLIC_URL",
            N_("大家访问 kb 的地址（例如 https://help.example.com），用于通知邮件里的链接；留空：链接只有路径。")),
    Setting("smtp_starttls", False, "KB_SMTP_STARTTLS", N_("登录前用 STARTTLS 升级 SMTP 连接。"), bool),
    Setting("widget_origins", "", "KB_WIDGET_ORIGINS",
            N_("嵌入帮助小部件（widget.js）的 Web 应用的来源，用逗号分隔，例如 https://app.example.com,https://admin"
               ".example.com；只有它们可以调用 /api/widget/（CORS）。留空：都不可以。")),
    Setting("widget_pages", "", "KB_WIDGET_PAGES",
            N_("小部件在宿主应用的哪个页面推荐哪个模块的文章：用逗号分隔的 路径模式=模块 对（* 匹配路径的一段之内）"
               "，例如 /projects/*/gantt=gantt,/billing*=billing。")),
]
BY_NAME = {s.name: s for s in SETTINGS}


DATA_INFO = "kb.json"  # in the data folder: which docs folder it was built from


def load_settings(overrides: dict | None = None, environ=None) -> dict:
    """Defaults, then environment variables, then overrides (CLI flags or a test's dict), validated.

    Without --docs or KB_DOCS, a data folder built before remembers its docs folder, so
    `kb build --docs X --data D` then `kb serve --data D` serves X, not ./docs.
    """
    environ = os.environ if environ is None else environ
    values, explicit = {}, set()
    for s in SETTINGS:
        value = s.default
        if environ.get(s.env, "") != "":
            value = environ[s.env]
            explicit.add(s.name)
        if overrides and overrides.get(s.name) not in (None, ""):
            value = overrides[s.name]
            explicit.add(s.name)
        values[s.name] = _convert(s, value)
    if "docs" not in explicit:
        remembered = _remembered_docs(Path(values["data"]).expanduser())
        if remembered:
            values["docs"] = remembered
    unknown = set(overrides or {}) - set(BY_NAME)
    if unknown:
        raise InvalidInput(N_("没有这些设置：%(names)s"), names=", ".join(sorted(unknown)))
    values["docs"] = Path(values["docs"]).expanduser()
    values["data"] = Path(values["data"]).expanduser()
    if not values["database_url"]:
        values["database_url"] = "sqlite:///" + str((values["data"] / "kb.db").resolve())
    if not 0 < values["port"] < 65536:
        raise InvalidInput(N_("端口（KB_PORT）必须在 1 到 65535 之间，现在是 %(port)s。"), port=values["port"])
    if values["threads"] < 1:
        raise InvalidInput(N_("工作线程数（KB_THREADS）至少是 1。"))
    if values["cache_size"] < 0:
        raise InvalidInput(N_("缓存大小（KB_CACHE_SIZE）不能是负数。"))
    for name in ("period", "click_window", "reformulation_window", "vote_window", "escalation_window"):
        if values[name] < 1:
            raise InvalidInput(N_("%(setting)s（%(env)s）至少是 1。"), setting=name, env=BY_NAME[name].env)
    from indexer.semantic import MODELS

    if values["semantic_model"] not in MODELS:
        raise InvalidInput(N_("语义模型（KB_SEMANTIC_MODEL）必须是 %(choices)s 之一，现在是 %(value)r。"),
                          choices=", ".join(MODELS), value=values["semantic_model"])
    if values["event_durability"] not in ("process", "power"):
        raise InvalidInput(N_("事件持久性（KB_EVENT_DURABILITY）必须是 'process' 或 'power'，现在是 %(value)r。"),
                          value=values["event_durability"])
    if not 1 <= values["site_workers"] <= 64:
        raise InvalidInput(N_("网站渲染进程数（KB_SITE_WORKERS）必须在 1 到 64 之间，现在是 %(value)s。"),
                          value=values["site_workers"])
    for name in ("connection_limit", "idle_timeout", "request_timeout", "password_hash_cost", "password_checks",
                 "login_window", "login_failures_account", "login_failures_address", "session_hours",
                 "click_min_clients", "click_half_life", "verify_after_searches", "verify_after_days"):
        if values[name] < 1:
            raise InvalidInput(N_("%(setting)s（%(env)s）至少是 1。"), setting=name, env=BY_NAME[name].env)
    if values["ask_webhook_url"] and not str(values["ask_webhook_url"]).startswith(("http://", "https://")):
        raise InvalidInput(N_("客服系统地址（KB_ASK_WEBHOOK_URL）必须是 http:// 或 https:// 开头的网址，现在是 %(value)r。"),
                          value=values["ask_webhook_url"])
    if values["public_url"] and not str(values["public_url"]).startswith(("http://", "https://")):
        raise InvalidInput(N_("访问地址（KB_PUBLIC_URL）必须是 http:// 或 https:// 开头的地址，现在是 %(value)r。"),
                          value=values["public_url"])
    if values["smtp_host"]:
        if not 0 < values["smtp_port"] < 65536:
            raise InvalidInput(N_("SMTP 端口（KB_SMTP_PORT）必须在 1 到 65535 之间，现在是 %(value)s。"),
                              value=values["smtp_port"])
        if "@" not in str(values["smtp_from"]):
            raise InvalidInput(N_("设置了 SMTP 服务器（KB_SMTP_HOST）时，发件人（KB_SMTP_FROM）必须是邮箱地址，"
                                  "例如 kb@example.com。"))
        if values["smtp_user"] and not values["smtp_password"]:
            raise InvalidInput(N_("设置了 SMTP 用户名却没有密码：请设置 KB_SMTP_PASSWORD。"))
    from .timefmt import time_zone
    from .widget import page_modules, widget_origins

    widget_origins(values["widget_origins"])  # readable errors at start, not on the first widget request
    page_modules(values["widget_pages"])

    time_zone(values["time_zone"])  # a readable error now, not on the first page
    if values["language"] not in LANGUAGES:
        raise InvalidInput(N_("语言（KB_LANGUAGE）必须是 %(choices)s 之一，现在是 %(value)r。"),
                          choices=", ".join(LANGUAGES), value=values["language"])
    if values["change_poll"] < 0:
        raise InvalidInput(N_("查看变更的间隔（KB_CHANGE_POLL）不能是负数（0 表示不跟随其他节点）。"))
    if values["refusal_delay"] < 0:
        raise InvalidInput(N_("拒绝后的等待（KB_REFUSAL_DELAY）不能是负数（0：回应 429 或 503 后不等待）。"))
    if values["analyze_every"] < 0:
        raise InvalidInput(N_("分析间隔（KB_ANALYZE_EVERY）不能是负数（0 表示不定时分析）。"))
    return values


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(setting: Setting, value):
    if setting.type is bool and not isinstance(value, bool):
        word = str(value).strip().lower()
        if word not in _TRUE + _FALSE:
            raise InvalidInput(N_("%(setting)s（%(env)s）必须是 1/true/yes/on 或 0/false/no/off，现在是 %(value)r。"),
                               setting=setting.name, env=setting.env, value=value)
        return word in _TRUE
    if setting.type is int and not isinstance(value, int):
        try:
            return int(str(value).strip())
        except ValueError:
            raise InvalidInput(N_("%(setting)s（%(env)s）必须是整数，现在是 %(value)r。"),
                               setting=setting.name, env=setting.env, value=value) from None
    return value


def _remembered_docs(data: Path) -> str | None:
    try:
        return json.loads((data / DATA_INFO).read_text(encoding="utf-8")).get("docs")
    except (OSError, ValueError, AttributeError):
        return None


def remember_docs(settings: dict) -> None:
    """Record in the data folder which docs folder it is built from."""
    data = Path(settings["data"])
    data.mkdir(parents=True, exist_ok=True)
    (data / DATA_INFO).write_text(json.dumps({"docs": str(Path(settings["docs"]).resolve())}), encoding="utf-8")


def failing_rules(settings: dict):
    """The failing-search rules these settings describe (for `kb analyze` and the scheduled run alike)."""
    from analytics.failing import FailingRules

    return FailingRules(settings["click_window"], settings["reformulation_window"], settings["vote_window"])


def closure_rules(settings: dict):
    """When the analysis judges a linked fix (for `kb analyze` and the scheduled run alike)."""
    from analytics.closure import ClosureRules

    return ClosureRules(settings["verify_after_searches"], settings["verify_after_days"])
