"""`kb`: a thin command line over the library. Each command parses options, calls one function and
turns kb's errors into a readable message and a non-zero exit."""

from __future__ import annotations

import errno
import functools
import json
import sys
from pathlib import Path

import click

from analytics.accounts import ROLES
from analytics.report import TABLES
from indexer.errors import KBError
from indexer.i18n import LANGUAGES, N_, gettext, set_language
from indexer.labels import label

from .cli_language import KBGroup, KBOption, option, speak_click_in_kb_language
from .settings import BY_NAME, load_settings, remember_docs

speak_click_in_kb_language()


def setting_options(*names):
    """Add a flag for each named setting, reading its environment variable (declared in settings.py)."""

    def decorate(fn):
        for name in reversed(names):
            s = BY_NAME[name]
            # Values stay strings here: load_settings validates them and names the variable in errors.
            kind = {"is_flag": True, "flag_value": "1"} if s.type is bool else {"type": str}
            fn = click.option(s.flag, name, envvar=s.env, default=None, **kind, cls=KBOption, setting=name,
                              help=s.help)(fn)
        return fn

    return decorate


# What the operating system says most often, in the company's language (its own words are English).
OS_REASONS = {errno.ENOENT: N_("不存在"), errno.EACCES: N_("权限不够"), errno.EPERM: N_("不允许这样操作"),
              errno.EADDRINUSE: N_("地址已被占用"), errno.ENOSPC: N_("磁盘空间不足"), errno.EROFS: N_("文件系统是只读的"),
              errno.EISDIR: N_("是一个文件夹"), errno.ENOTDIR: N_("不是文件夹")}


def os_error_text(exc: OSError) -> str:
    """One line for an OSError: the file it concerns and why, the why in the current language when kb knows it."""
    reason = gettext(OS_REASONS[exc.errno]) if exc.errno in OS_REASONS else (exc.strerror or str(exc))
    if exc.filename:
        return gettext("%(file)s：%(reason)s", file=exc.filename, reason=reason)
    return gettext("系统错误：%(reason)s", reason=reason)


def friendly_errors(fn):
    """Turn KBError (and a missing folder or port in use) into `Error: ...` and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KBError as exc:
            raise click.ClickException(exc.text) from None
        except OSError as exc:
            raise click.ClickException(os_error_text(exc)) from None

    return wrapper


def _settings(**options) -> dict:
    """Settings from flags and environment, checked before any long work starts."""
    from indexer.site import DEFAULT_MKDOCS_CONFIG
    from indexer.store import check_database_url

    ctx = click.get_current_context(silent=True)
    if (options.get("secret_key") and ctx is not None
            and ctx.get_parameter_source("secret_key") == click.core.ParameterSource.COMMANDLINE):
        click.secho(gettext("警告：--secret-key 会出现在 `ps` 里，本机每个用户都看得到；请改设 KB_SECRET_KEY，"
                            "或者不传它，使用自动生成的 <data>/secret.key"), fg="yellow", err=True)
    if options.get("language") is None:  # `kb --language en COMMAND`: the group's flag
        options["language"] = click.get_current_context().find_root().params.get("language")
    settings = load_settings({k: v for k, v in options.items() if k in BY_NAME})
    set_language(settings["language"])  # what this command writes (suggestions, e-mails) is in the company's language
    if "database_url" in options:
        check_database_url(settings["database_url"])
    if "docs" in options and settings["docs"].exists() and not settings["docs"].is_dir():
        raise KBError(N_("--docs %(docs)s 是一个文件；请指向存放 Markdown 文章的文件夹"), docs=str(settings["docs"]))
    if "mkdocs_config" in options:
        config = Path(settings["mkdocs_config"] or DEFAULT_MKDOCS_CONFIG)
        if not config.is_file():
            raise KBError(N_("找不到 MkDocs 配置文件 %(config)s：请传入 --mkdocs-config 或设置 KB_MKDOCS_CONFIG"),
                          config=str(config))
    return settings


# kb serve's settings for sign-in and sessions (kbserver/auth.py)
SIGN_IN_SETTINGS = ("password_hash_cost", "password_checks", "login_window", "login_failures_account",
                    "login_failures_address", "session_hours")


# kb serve's settings for notification e-mails (kbserver/delivery.py)
SMTP_SETTINGS = ("smtp_host", "smtp_port", "smtp_user", "smtp_password", "smtp_from", "smtp_starttls", "public_url")


def _warn_problem(exc) -> None:
    click.secho(gettext("警告：%(problem)s（已跳过）", problem=exc.text), fg="yellow", err=True)


class _Progress:
    """A progress bar that appears once the total is known (Whoosh tells us per document)."""

    def __init__(self, label: str):
        self.label, self.bar, self.done = label, None, 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def run_index(settings: dict, full: bool):
    """Index docs into data with a progress bar; returns the IndexReport."""
    from indexer.build import build_full, update_incremental
    from indexer.store import make_private_dir

    make_private_dir(settings["data"])  # before the indexer creates it with the umask's mode
    progress = _Progress(gettext("正在索引"))
    try:
        fn = build_full if full else update_incremental
        report = fn(settings["docs"], settings["data"], progress=progress, on_problem=_warn_problem)
    finally:
        progress.close()
    remember_docs(settings)
    click.echo(report.summary())
    return report


def run_vectors(settings: dict) -> None:
    """Embed the passages the index lacks vectors for (search already answers by keywords meanwhile)."""
    from indexer.build import current_index_dir
    from indexer.dense import fill_vectors
    from indexer.semantic import model_state
    from indexer.vectors import VectorStore

    state = model_state(settings["semantic_model"])
    encoder = state.get()
    if encoder is None:
        click.echo(gettext("段落向量：已跳过，%(reason)s；搜索只按关键词", reason=state.why.text if state.why else ""), err=True)
        return
    progress = _Progress(gettext("正在计算段落向量（搜索已能按关键词回答）"))
    try:
        report = fill_vectors(current_index_dir(settings["data"]), VectorStore(settings["data"]), encoder, progress=progress)
    finally:
        progress.close()
    click.echo(report.summary())


def run_site_build(settings: dict) -> dict:
    """Build the static site, saying so (MkDocs gives no progress of its own)."""
    from indexer.site import build_site

    progress = _Progress(gettext("正在生成站点（%(workers)s 个进程）", workers=settings["site_workers"]))
    try:
        info = build_site(settings["docs"], settings["data"], settings["mkdocs_config"] or None, on_problem=None,
                          workers=settings["site_workers"], progress=progress)
    finally:
        progress.close()
    click.echo(gettext("站点：%(pages)s 个页面，用时 %(seconds)s 秒 → %(folder)s", pages=info["pages"],
                       seconds=f"{info['seconds']:.1f}", folder=settings["data"] / "site"))
    return info


def _show_version(ctx) -> None:
    """`kb --version` in the current language (click's version_option fixes its words when it is imported)."""
    from importlib.metadata import version

    click.echo(gettext("%(prog)s，版本 %(version)s", prog=ctx.find_root().info_name, version=version("kb")))
    ctx.exit()


@click.group(cls=KBGroup, help=N_("kb：自建的帮助中心，搜索懂中文，并从使用中学习。"))
@option("--version", is_flag=True, expose_value=False, is_eager=True, help=N_("显示版本后退出。"),
        callback=lambda ctx, _param, value: _show_version(ctx) if value and not ctx.resilient_parsing else None)
@setting_options("language")
def cli(language):
    if language:
        if language not in LANGUAGES:
            raise click.BadParameter(gettext("必须是 %(choices)s 之一", choices=", ".join(LANGUAGES)),
                                     param_hint="--language")
        set_language(language)


@cli.command(help=N_("构建搜索索引（从头开始）、静态站点，再计算段落向量（没变的沿用）。"))
@setting_options("docs", "data", "mkdocs_config", "semantic_model", "site_workers")
@friendly_errors
def build(**options):
    settings = _settings(**options)
    run_index(settings, full=True)
    run_site_build(settings)
    run_vectors(settings)


@cli.command(help=N_("更新搜索索引（只处理新增、修改或删除的文章）及其段落向量。"))
@setting_options("docs", "data", "semantic_model")
@option("--full", is_flag=True, help=N_("重建整个索引，而不只是变化的部分。"))
@friendly_errors
def index(full, **options):
    settings = _settings(**options)
    report = run_index(settings, full=full)
    for line, slugs in ((N_("  新增：%(slugs)s"), report.added), (N_("  修改：%(slugs)s"), report.changed),
                        (N_("  删除：%(slugs)s"), report.removed)):
        if slugs and report.mode == "incremental":
            click.echo(gettext(line, slugs=", ".join(slugs)))
    run_vectors(settings)


@cli.command(help=N_("在生产级 WSGI 服务器上提供帮助站点和 API（需要时先构建它们）。"))
@setting_options(*SIGN_IN_SETTINGS)
@setting_options("docs", "data", "database_url", "host", "port", "threads", "mkdocs_config", "cache_size",
                 "analyze_every", "secret_key", "period", "click_window", "reformulation_window", "vote_window",
                 "semantic_model", "secure_cookies", "event_durability", "connection_limit", "idle_timeout",
                 "request_timeout", "trusted_proxy", "access_log", "site_workers", "ask_webhook_url",
                 "verify_after_searches", "verify_after_days", "time_zone", "change_poll", "language")
@setting_options(*SMTP_SETTINGS)
@setting_options("widget_origins", "widget_pages")
@friendly_errors
def serve(**options):
    from indexer.build import index_manifest, read_pointer
    from indexer.site import site_dir, site_manifest

    from . import create_app
    from .server import serve as run_server

    settings = _settings(**options)
    from indexer import changes

    from .db import open_db as _open_db

    # Changes other nodes make from now on are applied by the follower; the start-up below catches up the rest
    # (the shared docs folder holds every change made before, and the site is rebuilt if it lags the index).
    feed = _open_db(settings["database_url"])
    since = changes.latest(feed)
    feed.conn.close()
    if read_pointer(settings["data"]) is None or site_dir(settings["data"]) is None:
        click.echo(gettext("还没有索引或站点：先构建它们"), err=True)
        run_index(settings, full=True)
        run_site_build(settings)
    else:
        run_index(settings, full=False)
        # The site may lag the index (after `kb index`), not only the docs: compare what each holds.
        if site_manifest(settings["data"]) != index_manifest(settings["data"]):
            run_site_build(settings)
    app = create_app({k: v for k, v in settings.items()})
    app.extensions["kb_index"].warm()  # the first customer should not wait for the index to load
    recovered = app.extensions["kb_publisher"].recover(_open_db(settings["database_url"]))
    if recovered:
        app.extensions["kb_site_updater"].wait_idle()  # their pages are live before the first visitor comes
        click.echo(gettext("上次停止时中断的投稿 %(ids)s 已发布完成", ids=recovered), err=True)
    from .jobs import start_schedule

    start_schedule(app, settings["analyze_every"])
    app.extensions["kb_follower"].start(since)  # other nodes' publishes, edits and synonyms, within seconds
    app.extensions["kb_vectors"].start()  # embeds in the background: search answers by keywords meanwhile
    app.extensions["kb_forwarder"].start()  # resends questions an earlier run could not deliver
    app.extensions["kb_notifier"].start()  # e-mails and webhooks, including those an earlier run left pending
    run_server(app, settings["host"], settings["port"], settings["threads"],
               ready=lambda url: click.echo(gettext("kb 正在 %(url)s 提供帮助中心（按 Ctrl-C 停止）", url=url)),
               **{k: settings[k] for k in ("connection_limit", "idle_timeout", "request_timeout", "trusted_proxy",
                                           "access_log", "refusal_delay")})


STAT_NAMES = {"articles": N_("文章数"), "searches": N_("搜索数"), "clicks": N_("点击数"), "votes": N_("投票数")}


@cli.command(help=N_("文章、搜索、点击和投票的数量。"))
@setting_options("data", "database_url")
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出各项数量。"))
@friendly_errors
def stats(as_json, **options):
    from analytics.events import counts
    from indexer.query import open_index

    settings = _settings(**options)
    result = {"articles": open_index(settings["data"], cache_size=0).count()}
    db = _open_event_db(settings)
    result.update(counts(db))
    db.conn.close()
    if as_json:
        click.echo(json.dumps(result))
    else:
        names = {key: gettext(STAT_NAMES.get(key, key)) for key in result}
        width = max(map(len, names.values())) + 1
        for key, value in result.items():
            click.echo(f"{names[key]:>{width}}: {value}")


@cli.command(help=N_("在命令行里搜索索引（不记为客户的搜索）。"))
@setting_options("data", "semantic_model", "database_url")
@click.argument("query")
@option("--limit", default=5, show_default=True, help=N_("显示多少条结果。"))
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出完整结果。"))
@friendly_errors
def search(query, limit, as_json, **options):
    from indexer.query import open_index

    settings = _settings(**options)
    index = open_index(settings["data"], cache_size=0, semantic=settings["semantic_model"])
    index.set_learned_synonyms(_approved_synonyms(settings))  # as kb serve searches
    result = index.search(query, limit=limit)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if result["did_you_mean"]:
        click.echo(gettext("您是不是要找：%(suggestion)s", suggestion=result["did_you_mean"]))
    click.echo(gettext("%(total)s 条结果，用时 %(ms)s 毫秒", total=result["total"], ms=f"{result['took_ms']:.1f}"))
    for hit in result["results"]:
        found_by = "+".join(gettext(MATCHED_BY.get(m, m)) for m in hit.get("matched") or [])
        click.echo(f"{hit['position']:>3}. {hit['title']}  [{hit['slug']}]  {hit['score']:.2f}  {found_by}")


MATCHED_BY = {"keyword": N_("关键词"), "meaning": N_("语义")}  # why a result was found


def _approved_synonyms(settings: dict) -> list[tuple[str, str]]:
    """The learned synonym pairs managers approved (none when there is no database yet)."""
    from analytics.synonyms import approved_pairs
    from indexer.store import is_postgres, sqlite_path

    from .db import open_db

    if not is_postgres(settings["database_url"]) and not sqlite_path(settings["database_url"]).exists():
        return []
    db = open_db(settings["database_url"])
    try:
        return approved_pairs(db)
    finally:
        db.conn.close()


def _open_event_db(settings: dict):
    """The event database, first storing what a stopped `kb serve` acknowledged but had not stored
    (its spool): counts and analysis must see every event a customer was told was recorded."""
    from analytics.events import replay_spool, spool_folder

    from .db import open_db

    db = open_db(settings["database_url"])
    replayed = replay_spool(db, spool_folder(settings["data"]))
    if replayed:
        click.echo(gettext("已保存 %(n)s 个事件：它们已被停止的 kb serve 确认收到，但还没保存", n=replayed), err=True)
    return db


def _articles(settings: dict) -> list[dict]:
    from indexer.articles import load_articles

    return [a.to_dict() | {"body": a.body} for a in load_articles(settings["docs"], on_problem=_warn_problem)]


@cli.command(help=N_("向事件日志生成一个月带已知问题的逼真流量（用于演示和测试）。"))
@setting_options("docs", "data", "database_url")
@option("--days", default=30, show_default=True, help=N_("生成多少天的流量（到现在为止）。"))
@option("--sessions-per-day", default=60, show_default=True, help=N_("每天的访客会话数。"))
@option("--seed", default=7, show_default=True, help=N_("随机种子：同一个种子生成同样的一个月。"))
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出注入的问题（标准答案）。"))
@option("--scenario", type=click.File("rb"), default=None,
              help=N_("要注入任意文档文件夹的问题（YAML 或 JSON 文件）：没有覆盖的主题、搜不到的主题（slug、查询、"
                      "文章缺少的词）、voted_down、bounce（见 README）。"))
@friendly_errors
def simulate(days, sessions_per_day, seed, as_json, scenario, **options):
    from analytics.simulate import simulate as run
    from indexer.build import read_pointer
    from indexer.query import open_index

    from .db import open_db

    settings = _settings(**options)
    injected = None
    if scenario is not None:
        import yaml

        try:
            injected = yaml.safe_load(scenario.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise click.ClickException(gettext("%(file)s 不是 UTF-8 编码的 YAML/JSON 场景文件：%(error)s",
                                               file=scenario.name, error=str(exc).splitlines()[0])) from None
    if read_pointer(settings["data"]) is None:
        run_index(settings, full=True)
    db = open_db(settings["database_url"])
    progress = _Progress(gettext("正在逐天模拟"))
    try:
        truth = run(db, open_index(settings["data"]), _articles(settings), days=days,
                    sessions_per_day=sessions_per_day, seed=seed, progress=progress, scenario=injected)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(truth, ensure_ascii=False, indent=2))
    else:
        e = truth["events"]
        click.echo(gettext("已模拟 %(days)s 天：%(searches)s 次搜索、%(clicks)s 次点击、%(votes)s 次投票", days=days,
                           searches=e["searches"], clicks=e["clicks"], votes=e["votes"]))
        unfindable = ", ".join(v["slug"] for v in truth["unfindable"].values())
        click.echo(gettext("注入的问题：缺口 %(gaps)s%(unfindable)s；搜索激增 %(surge)s；没帮助 %(unhelpful)s；"
                           "很快离开 %(bounce)s", gaps=", ".join(truth["gap_topics"]),
                           unfindable=gettext("；搜不到 %(slugs)s", slugs=unfindable) if unfindable else "",
                           surge=truth["surge"]["article"], unhelpful=truth["unhelpful_article"],
                           bounce=truth["bounce_article"]))
        click.echo(gettext("下一步：kb analyze"))


# The steps analytics.analyze reports, as the progress bar names them.
ANALYSIS_STEPS = {"failing searches": N_("失败的搜索"), "content gaps": N_("内容缺口"),
                  "stale and unhelpful articles": N_("过时和没帮助的文章"), "article health": N_("文章健康度"),
                  "learned synonyms": N_("学到的同义词"), "queue": N_("处理队列"), "verify fixes": N_("验证修复")}


@cli.command(help=N_("找出失败的搜索、内容缺口和过时或没帮助的文章；更新管理员的处理队列。"))
@setting_options("docs", "data", "database_url", "period", "click_window", "reformulation_window", "vote_window",
                 "verify_after_searches", "verify_after_days", "semantic_model", "language")
@option("--dry-run", is_flag=True, help=N_("只报告，不改动处理队列。"))
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出缺口和问题。"))
@friendly_errors
def analyze(dry_run, as_json, **options):
    from analytics.analyze import analyze as run
    from indexer.build import read_pointer
    from indexer.query import open_index

    from .settings import closure_rules, failing_rules

    settings = _settings(**options)
    articles = _articles(settings)
    db = _open_event_db(settings)
    # Advice asks kb's own search which article answers a gap's queries; without an index, words decide.
    index = open_index(settings["data"], semantic=settings["semantic_model"]) if read_pointer(settings["data"]) else None
    with click.progressbar(length=len(ANALYSIS_STEPS), label=gettext("正在分析"), file=sys.stderr,
                           item_show_func=lambda s: s and gettext(ANALYSIS_STEPS.get(s, s))) as bar:
        report = run(db, articles, period_days=settings["period"], update_queue=not dry_run,
                     rules=failing_rules(settings), closure=closure_rules(settings), index=index,
                     progress=lambda name: bar.update(1, name))
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else report.summary())


@cli.command(help=N_("客服负责人看的一段日期的数字：自助解决率、搜索、排行、各模块健康度。"))
@setting_options("data", "database_url", "time_zone", "click_window", "reformulation_window", "vote_window",
                 "escalation_window")
@option("--days", default=None, type=str, help=N_("不给 --from 时：最近 N 个完整的天（默认 7）。"))
@option("--from", "start", default=None, help=N_("第一天，YYYY-MM-DD（公司时区）。"))
@option("--to", "end", default=None, help=N_("最后一天，YYYY-MM-DD；最晚到昨天（今天还没过完）。"))
@option("--table", default="summary", show_default=True, type=click.Choice(list(TABLES)),
              help=N_("配合 --csv 时输出哪张表。"))
@option("--csv", "as_csv", is_flag=True, help=N_("以 CSV 输出这张表（与仪表盘的导出相同）。"))
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出整份报告（与分析 API 的数字相同）。"))
@friendly_errors
def report(days, start, end, table, as_csv, as_json, **options):
    from analytics import report as reports

    from .settings import failing_rules
    from .timefmt import time_zone

    settings = _settings(**options)
    db = _open_event_db(settings)
    rng = reports.resolve_range(time_zone(settings["time_zone"]), start, end, days)
    data = reports.report(db, rng, failing_rules(settings), settings["escalation_window"])
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif as_csv:
        click.echo(reports.to_csv(reports.table(data, table)), nl=False)
    else:
        s, t = data["summary"], data["trend"]

        def pct(v):
            return "—" if v is None else f"{v * 100:.1f}%"

        def pts(v):
            return "" if v is None else gettext("（比之前 %(days)s 天 %(change)s 个百分点）", days=data["days"],
                                                change=f"{v * 100:+.1f}")

        click.echo(gettext("%(start)s 至 %(end)s（%(days)s 个完整的天，%(time_zone)s）", start=data["from"],
                           end=data["to"], days=data["days"], time_zone=data["time_zone"]))
        click.echo(gettext("自助解决率：%(rate)s（%(sessions)s 个搜索会话中的 %(self_served)s 个）%(trend)s",
                           rate=pct(s["self_service_rate"]), self_served=s["self_served_sessions"],
                           sessions=s["sessions"], trend=pts(t["self_service_rate"])))
        click.echo(gettext("搜索：%(searches)s 次；无结果 %(zero)s；点击率 %(clicked)s；%(votes)s 次投票中有帮助 %(helpful)s",
                           searches=s["searches"], zero=pct(s["zero_result_rate"]),
                           clicked=pct(s["click_through_rate"]), helpful=pct(s["helpful_rate"]), votes=s["votes"]))
        click.echo(gettext("答案框：回答了 %(coverage)s 的搜索；%(votes)s 次投票中有帮助 %(helpful)s",
                           coverage=pct(s["answer_coverage"]), helpful=pct(s["answer_helpful_rate"]),
                           votes=s["answer_votes"]))


@cli.command(help=N_("把 FILE 里的查询聚类（每行一个，UTF-8；- 表示标准输入），输出 JSON：每行一个聚类编号。"))
@click.argument("file", type=click.File("rb"))
@option("--threshold", default=None, type=float,
              help=N_("平均余弦距离低于它的查询归为一组（默认：英文且用 MiniLM 时 0.6，否则 0.85）。"))
@option("--min-size", default=None, type=int, help=N_("一组至少多少行才算一个聚类（默认 3）。"))
@friendly_errors
def cluster(file, threshold, min_size):
    from analytics.gaps import MIN_SIZE, cluster_texts, dedupe, near_identical_key

    raw = file.read()
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise click.ClickException(gettext("%(file)s 不是 UTF-8 文本（第 %(byte)s 个字节）；请另存为 UTF-8",
                                           file=file.name, byte=exc.start)) from None
    queries = [line.strip() for line in lines]
    present = [q for q in queries if q]
    texts, counts, position = dedupe(present)
    if (threshold is not None and not 0 < threshold <= 2) or (min_size is not None and min_size < 1):
        raise click.ClickException(gettext("--threshold 必须在 (0, 2] 之间，--min-size 至少为 1"))
    result = cluster_texts(texts, counts, threshold=threshold, min_size=min_size or MIN_SIZE)
    label_of = {i: result.labels[i] for i in range(len(texts))}
    assignments = [label_of[position[near_identical_key(q) or q]] if q else -1 for q in queries]
    clusters = [{"id": c, "label": " / ".join(result.top_terms(c)), "representative": result.representative(c),
                 "size": sum(result.weights[i] for i in result.members(c))} for c in result.cluster_ids]
    click.echo(json.dumps({"lines": len(queries), "clusters": clusters, "assignments": assignments,
                           "noise": sum(1 for a in assignments if a < 0)}, ensure_ascii=False))


@cli.group(help=N_("账号：知识库管理员、客服和 VIP 客户；可停用、重置密码或删除。"))
def users():
    pass


def _role(role: str) -> str:
    """A role's name in the current language (manager → 知识库管理员)."""
    return label(role, "role")


def _accounts_db(options):
    from .db import open_db

    settings = _settings(**options)
    return settings, open_db(settings["database_url"])


@users.command("add", help=N_("创建账号；输出生成的密码和 API 令牌（只显示这一次）。"))
@setting_options("data", "database_url", "password_hash_cost")
@click.argument("name")
@option("--role", required=True, type=click.Choice(list(ROLES)),
              help=N_("manager、agent、vip 或 helpdesk（一个集成：用客服 API 为每位客服发链接）。"))
@option("--email", default=None, help=N_("接收通知的邮箱（也可以以后用 kb users set-email 设置）。"))
@friendly_errors
def users_add(name, role, email, **options):
    from analytics.accounts import clean_email, create_user, set_contact

    settings, db = _accounts_db(options)
    email = clean_email(email)  # checked before the account exists: a bad address creates nothing
    user, password, token = create_user(db, name, role, settings["password_hash_cost"])
    if email:
        set_contact(db, user["id"], email)
    click.echo(gettext("已创建%(role)s %(name)s", role=_role(user["role"]), name=repr(user["name"])))
    click.echo(gettext("密码：%(password)s", password=password))
    click.echo(gettext("API 令牌：%(token)s   （请求时这样带上：Authorization: Bearer <token>）", token=token))
    click.echo(gettext("它们只显示这一次；kb 只保存它们的哈希值"))


@users.command("list", help=N_("列出账号（启用的和停用的）及其角色。"))
@setting_options("data", "database_url")
@friendly_errors
def users_list(**options):
    from analytics.accounts import list_users

    for user in list_users(_accounts_db(options)[1], include_disabled=True):
        state = gettext("停用中") if user["disabled"] else gettext("启用中")
        click.echo(f"{user['name']}\t{user['role']}\t{state}\t{user['created_at']}")


@users.command("disable", help=N_("停用账号：它的会话和 API 令牌立即失效（最后一位管理员不能停用）。"))
@setting_options("data", "database_url")
@click.argument("name")
@friendly_errors
def users_disable(name, **options):
    from analytics.accounts import find_user, set_disabled

    db = _accounts_db(options)[1]
    set_disabled(db, find_user(db, name)["id"], True)
    click.echo(gettext("已停用 %(name)s：在所有地方都已退出登录；`kb users enable` 之前密码和令牌都会被拒绝", name=repr(name)))


@users.command("enable", help=N_("重新启用账号（密码和令牌恢复可用），并解除它的登录锁定。"))
@setting_options("data", "database_url")
@click.argument("name")
@friendly_errors
def users_enable(name, **options):
    from analytics import throttle
    from analytics.accounts import find_user, set_disabled

    db = _accounts_db(options)[1]
    user = set_disabled(db, find_user(db, name)["id"], False)
    throttle.clear_account(db, user["name"])
    click.echo(gettext("已启用 %(name)s", name=repr(name)))


@users.command("set-role", help=N_("给账号换一个角色（下一次请求起生效；最后一位管理员不能降级）。"))
@setting_options("data", "database_url")
@click.argument("name")
@click.argument("role", type=click.Choice(list(ROLES)))
@friendly_errors
def users_set_role(name, role, **options):
    from analytics.accounts import find_user, set_role

    db = _accounts_db(options)[1]
    user = set_role(db, find_user(db, name)["id"], role)
    click.echo(gettext("%(name)s 现在是%(role)s", name=repr(user["name"]), role=_role(user["role"])))


@users.command("reset-password", help=N_("生成新密码（只输出一次）；该账号的会话结束，API 令牌保留。"))
@setting_options("data", "database_url", "password_hash_cost")
@click.argument("name")
@friendly_errors
def users_reset_password(name, **options):
    from analytics import throttle
    from analytics.accounts import find_user, reset_password

    settings, db = _accounts_db(options)
    user = find_user(db, name)
    password = reset_password(db, user["id"], settings["password_hash_cost"])
    throttle.clear_account(db, user["name"])
    click.echo(gettext("%(name)s 的新密码：%(password)s", name=repr(name), password=password))
    click.echo(gettext("只显示这一次；这个账号已在所有地方退出登录"))


@users.command("rotate-token", help=N_("更换账号的 API 令牌（只输出一次）；旧令牌立即失效。"))
@setting_options("data", "database_url")
@click.argument("name")
@friendly_errors
def users_rotate_token(name, **options):
    from analytics.accounts import find_user, rotate_token

    db = _accounts_db(options)[1]
    token = rotate_token(db, find_user(db, name)["id"])
    click.echo(gettext("%(name)s 的新 API 令牌：%(token)s", name=repr(name), token=token))
    click.echo(gettext("只显示这一次；旧令牌已经失效"))


@users.command("remove", help=N_("删除账号：会话、密码和令牌立即失效；名字仍被占用（历史记录用到它）。"))
@setting_options("data", "database_url")
@click.argument("name")
@option("--yes", is_flag=True, help=N_("不再询问确认。"))
@friendly_errors
def users_remove(name, yes, **options):
    from analytics.accounts import find_user, remove_user

    db = _accounts_db(options)[1]
    user = find_user(db, name)
    if not yes:
        click.confirm(gettext("删除%(role)s %(name)s？删除后无法撤销", role=_role(user["role"]), name=repr(name)), abort=True)
    remove_user(db, user["id"])
    click.echo(gettext("已删除 %(name)s", name=repr(name)))


@users.command("set-email", help=N_("设置接收通知的邮箱（'' 表示清除），也可同时设定 instant/digest/off。"))
@setting_options("data", "database_url")
@click.argument("name")
@click.argument("email")
@option("--mode", type=click.Choice(["instant", "digest", "off"]), default=None,
              help=N_("通知邮件：每封立即发送、每天一封汇总，或者不发。"))
@friendly_errors
def users_set_email(name, email, mode, **options):
    from analytics import accounts

    _, db = _accounts_db(options)
    contact = accounts.set_contact(db, accounts.find_user(db, name)["id"], email, mode)
    click.echo(gettext("%(name)s：%(email)s，%(mode)s", name=contact["name"],
                       email=contact["email"] or gettext("（没有邮箱）"), mode=contact["mode"]))


@cli.group(help=N_("外发 webhook：为投稿、问题、缺口、到期复核和提问发送带签名的 JSON POST。"))
def webhooks():
    pass


@webhooks.command("add", help=N_("把所选事件发送到 URL，用密钥签名。"))
@setting_options("data", "database_url")
@click.argument("url")
@option("--events", required=True, help=N_("事件类型，用逗号分隔，* 表示全部（见 `kb webhooks list`）。"))
@option("--secret", default=None,
              help=N_("签名密钥（至少 16 个字符）；默认自动生成并只输出一次（这样更好：命令行参数会出现在 `ps` 里）。"))
@option("--by", default="", help=N_("谁添加的（会记录下来）。"))
@friendly_errors
def webhooks_add(url, events, secret, by, **options):
    from analytics import notifications

    hook, generated = notifications.add_webhook(_accounts_db(options)[1], url, events, secret, created_by=by)
    click.echo(gettext("webhook %(id)s：%(url)s（%(events)s）", id=hook["id"], url=hook["url"], events=", ".join(hook["events"])))
    if generated:
        click.echo(gettext("签名密钥（只显示这一次）：%(secret)s", secret=generated))


@webhooks.command("list", help=N_("列出 webhook（密钥已遮盖），加 --deliveries 时还列出投递记录。"))
@setting_options("data", "database_url")
@option("--deliveries", is_flag=True, help=N_("同时列出最近的投递及每次尝试。"))
@friendly_errors
def webhooks_list(deliveries, **options):
    from analytics import notifications

    _, db = _accounts_db(options)
    for hook in notifications.list_webhooks(db):
        click.echo(gettext("%(id)s  %(url)s  事件 %(events)s  密钥 %(secret)s", id=f"{hook['id']:>4}", url=hook["url"],
                           events=",".join(hook["events"]), secret=hook["secret_hint"]))
    click.echo(gettext("事件类型：%(events)s", events=", ".join(notifications.EVENTS)))
    if deliveries:
        ok = gettext("正常")
        for d in notifications.deliveries(db, 50):
            tries = "; ".join(f"{a['status'] or '-'} {a['error'] or ok}" for a in d["attempt_log"])
            click.echo(gettext("#%(id)s → webhook %(webhook)s：%(event)s %(state)s  %(tries)s", id=d["id"],
                               webhook=d["webhook_id"], event=d["event"], state=d["state"], tries=tries))


@webhooks.command("remove", help=N_("停止向某个 webhook 发送（投递记录保留）。"))
@setting_options("data", "database_url")
@click.argument("webhook_id", type=int)
@friendly_errors
def webhooks_remove(webhook_id, **options):
    from analytics import notifications

    notifications.remove_webhook(_accounts_db(options)[1], webhook_id)
    click.echo(gettext("已删除 webhook %(id)s", id=webhook_id))


@cli.group(help=N_("在命令行里审核 VIP 最佳实践（与网页队列和 API 的操作相同）。"))
def contrib():
    pass


def _contrib_context(options, by=None):
    from . import policy
    from .db import open_db

    settings = _settings(**options)
    db = open_db(settings["database_url"])
    return settings, db, policy.manager_named(db, by) if by is not None else None


def _show(sub: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(sub, ensure_ascii=False, indent=2))
        return
    click.echo(gettext("#%(id)s %(title)s  [%(state)s]  作者 %(author)s（%(organisation)s）", id=sub["id"],
                       title=sub["title"], state=sub["state"], author=sub["author_name"],
                       organisation=sub["organisation"]))
    click.echo(gettext("第 %(revision)s 版 · 审核人 %(reviewer)s · slug %(slug)s", revision=sub["revision"],
                       reviewer=sub["assigned_to"] or "-", slug=sub["slug"] or "-"))
    for c in sub.get("comments", []):
        click.echo(f"  💬 {c['author']}: {c['body']}")
    for h in sub.get("history", []):
        click.echo(f"  {h['ts']} {h['actor']}: {h['from_state'] or '-'} → {h['to_state']} {h['note']}")


@contrib.command("list", help=N_("列出投稿，最新的在前。"))
@setting_options("docs", "data", "database_url")
@option("--state", help=N_("只列出这个状态的投稿（例如 submitted）。"))
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出。"))
@friendly_errors
def contrib_list(state, as_json, **options):
    from contrib import queue

    _, db, _ = _contrib_context(options)
    if state and state not in queue.STATES:
        raise KBError(N_("--state 必须是 %(states)s 之一"), states=", ".join(queue.STATES))
    subs = queue.list_submissions(db, (state,) if state else None)
    if as_json:
        click.echo(json.dumps(subs, ensure_ascii=False, indent=2))
    for s in [] if as_json else subs:
        click.echo(f"#{s['id']:<4} {s['state']:<18} {s['title']}  ({s['organisation']})")


@contrib.command("show", help=N_("显示一条投稿及其评论和历史。"))
@setting_options("docs", "data", "database_url")
@click.argument("submission_id", type=int)
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出。"))
@friendly_errors
def contrib_show(submission_id, as_json, **options):
    from contrib import queue

    _, db, _ = _contrib_context(options)
    _show(queue.get(db, submission_id), as_json)


def _contrib_action(action: str, submission_id: int, by: str, note: str, options: dict) -> None:
    from contrib import queue
    from contrib.publish import Publisher
    from contrib.review import apply_review_action
    from indexer.site import update_site

    from . import policy

    settings, db, actor = _contrib_context(options, by)
    policy.require_submission(actor, queue.get(db, submission_id), action)
    changed: list[str] = []  # the docs paths whose pages change: rendered below, once the action is stored
    publisher = Publisher(settings["docs"], settings["data"], rebuild_site=lambda paths: changed.extend(paths))
    sub = apply_review_action(db, publisher, submission_id, action, actor, None, note or "")
    if changed:
        try:
            update_site(settings["docs"], settings["data"], changed, settings["mkdocs_config"] or None)
        except Exception as exc:  # noqa: BLE001 - the action is stored; the previous pages keep serving
            click.echo(gettext("警告：站点更新失败（%(error)s）；之前的页面照常提供", error=exc), err=True)
    _show(sub, False)


for _name, _action, _help, _note in (
        ("start-review", "start_review", N_("把已提交的实践分配给 --by 指定的管理员，开始审核。"), False),
        ("request-changes", "request_changes", N_("请作者修改（--note 说明改什么）。"), True),
        ("approve", "approve", N_("通过并发布到 docs/practices/（索引和站点随之更新）。"), False),
        ("publish", "publish", N_("重新发布一条已通过但发布失败的投稿。"), False),
        ("reject", "reject", N_("拒绝（--note 写作者会看到的理由）。"), True),
        ("unpublish", "unpublish", N_("把已发布的实践从站点和搜索中撤下。"), False)):

    def _make(action=_action):
        def command(submission_id, by, note, **options):
            _contrib_action(action, submission_id, by, note, options)
        return command

    _cmd = _make()
    _cmd = friendly_errors(_cmd)
    _cmd = setting_options("docs", "data", "database_url", "mkdocs_config")(_cmd)
    _cmd = option("--note", required=_note, default="", help=N_("记入历史；作者能看到。"))(_cmd)
    _cmd = option("--by", required=True, help=N_("执行这个操作的管理员账号（记入历史）。"))(_cmd)
    _cmd = click.argument("submission_id", type=int)(_cmd)
    contrib.command(_name, help=_help)(_cmd)


@cli.group(help=N_("从客户改换说法中学到的词对：列出、通过或拒绝（留有审计记录）。"))
def synonyms():
    pass


def _synonyms_db(options, by: str | None = None):
    from . import policy
    from .db import open_db

    db = open_db(_settings(**options)["database_url"])
    if by is not None:
        policy.manager_named(db, by)
    return db


@synonyms.command("list", help=N_("列出学到的词对（客户用词 → 文章用词），会话最多的提议在前。"))
@setting_options("data", "database_url")
@option("--state", type=click.Choice(["proposed", "approved", "rejected"]), help=N_("只列出这个状态的词对。"))
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出。"))
@friendly_errors
def synonyms_list(state, as_json, **options):
    from analytics.synonyms import list_synonyms

    pairs = list_synonyms(_synonyms_db(options), state)
    if as_json:
        click.echo(json.dumps(pairs, ensure_ascii=False, indent=2))
        return
    if not pairs:
        click.echo(gettext("还没有学到的同义词：请先对记录下来的流量运行 `kb analyze`"))
    for p in pairs:
        example = " | ".join(f"{a} → {b}" for a, b in p["examples"][:2])
        decided = f"  ({p['decided_by']} {p['decided_at'][:16]})" if p["decided_by"] else ""
        click.echo(gettext("#%(id)s %(state)s %(customer)s → %(article)s  ×%(sessions)s  例如 %(example)s%(decided)s",
                           id=f"{p['id']:<4}", state=f"{p['state']:<9}", customer=p["customer"], article=p["article"],
                           sessions=p["sessions"], example=example, decided=decided))


def _synonym_decision(decision: str, synonym_id: int, by: str, note: str, options: dict) -> None:
    from analytics.synonyms import decide

    row = decide(_synonyms_db(options, by), synonym_id, decision, by, None, note or "")
    then = gettext("；几秒内搜索就会用上") if row["state"] == "approved" else ""
    click.echo(gettext("#%(id)s %(customer)s → %(article)s：%(state)s，决定人 %(by)s%(then)s", id=row["id"],
                       customer=row["customer"], article=row["article"], state=row["state"], by=row["decided_by"],
                       then=then))


@synonyms.command("approve", help=N_("通过词对：含客户用词的搜索也会查找文章用词。"))
@setting_options("data", "database_url")
@click.argument("synonym_id", type=int)
@option("--by", required=True, help=N_("做决定的管理员账号（记入审计记录）。"))
@option("--note", default="", help=N_("与决定一起记录。"))
@friendly_errors
def synonyms_approve(synonym_id, by, note, **options):
    _synonym_decision("approve", synonym_id, by, note, options)


@synonyms.command("reject", help=N_("拒绝词对（或撤回通过）：它不会再被提议。"))
@setting_options("data", "database_url")
@click.argument("synonym_id", type=int)
@option("--by", required=True, help=N_("做决定的管理员账号（记入审计记录）。"))
@option("--note", default="", help=N_("与决定一起记录。"))
@friendly_errors
def synonyms_reject(synonym_id, by, note, **options):
    _synonym_decision("reject", synonym_id, by, note, options)


@cli.group(help=N_("在命令行里查看文章历史、恢复旧版本、标记“已复核”（与网页编辑器用同一套库）。"))
def edit():
    pass


def _edit_context(options, by=None):
    from . import policy
    from .db import open_db

    settings = _settings(**options)
    db = open_db(settings["database_url"])
    if by is not None:
        policy.editor_named(db, by)
    return settings, db


def _after_edit(settings, result, site: bool) -> None:
    from contrib import editing
    from indexer.site import build_site, site_dir

    if result.get("unchanged"):
        click.echo(gettext("没有改动：文章已经是这段文字"))
        return
    editing.reindex(settings["docs"], settings["data"])
    click.echo(gettext("版本 #%(revision)s：%(path)s（哈希 %(hash)s），索引已更新", revision=result["revision"],
                       path=result["path"], hash=result["hash"]))
    if (result.get("git") or {}).get("commit"):
        click.echo(gettext("git 提交 %(commit)s", commit=result["git"]["commit"][:12]))
    elif (result.get("git") or {}).get("error"):
        click.echo(result["git"]["error"], err=True)
    if site and site_dir(settings["data"]) is not None:
        build_site(settings["docs"], settings["data"], settings["mkdocs_config"] or None)
        click.echo(gettext("站点已重新生成"))


@edit.command("history", help=N_("列出文章的各个版本，最新的在前。"))
@setting_options("docs", "data", "database_url")
@click.argument("slug")
@option("--json", "as_json", is_flag=True, help=N_("以 JSON 输出。"))
@friendly_errors
def edit_history(slug, as_json, **options):
    from contrib import editing

    _, db = _edit_context(options)
    revisions = editing.history(db, slug)
    if as_json:
        click.echo(json.dumps(revisions, ensure_ascii=False, indent=2))
        return
    if not revisions:
        click.echo(gettext("%(slug)s 还没有版本记录（还没在 kb 里编辑过）", slug=slug))
    for r in revisions:
        extra = gettext("（来自 #%(revision)s）", revision=r["restored_from"]) if r["restored_from"] else ""
        click.echo(f"#{r['id']:<5} {r['ts']}  {r['actor']:<12} {r['action']:<9}{extra} {r['message']}")


@edit.command("restore", help=N_("把文章恢复成某个旧版本的文字（记为一个新版本）。"))
@setting_options("docs", "data", "database_url", "mkdocs_config")
@click.argument("slug")
@click.argument("revision", type=int)
@option("--by", required=True, help=N_("执行这个操作的管理员或编辑账号（记入历史）。"))
@option("--recreate", is_flag=True, help=N_("文章的文件已被删除时重新创建它。"))
@option("--no-site", is_flag=True, help=N_("不重新生成站点（索引总会更新）。"))
@friendly_errors
def edit_restore(slug, revision, by, recreate, no_site, **options):
    from contrib import editing

    settings, db = _edit_context(options, by)
    path = editing.source_path(settings["docs"], slug)
    base = editing.read_article(settings["docs"], slug)["hash"] if path else None
    result = editing.restore(settings["docs"], db, settings["data"], slug, revision, base, by, recreate=recreate)
    _after_edit(settings, result, not no_site)


@edit.command("reviewed", help=N_("把文章的 reviewed: 日期设为今天，其他不变。"))
@setting_options("docs", "data", "database_url", "mkdocs_config")
@click.argument("slug")
@option("--by", required=True, help=N_("执行这个操作的管理员或编辑账号（记入历史）。"))
@option("--no-site", is_flag=True, help=N_("不重新生成站点（索引总会更新）。"))
@friendly_errors
def edit_reviewed(slug, by, no_site, **options):
    from contrib import editing

    settings, db = _edit_context(options, by)
    _after_edit(settings, editing.mark_reviewed(settings["docs"], db, settings["data"], slug, by), not no_site)


def main():  # pragma: no cover - console script entry point
    cli(prog_name="kb")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
