"""Editing articles inside kb: save, new article, history, restore, "reviewed". Sole owner of ``revisions``.

A library first (the web editor, the JSON API and `kb edit` call it): functions take the docs folder,
the database and plain values, never Flask.

- **Never a silent overwrite.** Every save names the content hash of the text the editor started from
  (``base_hash``); if the file now has another hash (a colleague saved, or someone changed the file
  on disk) the save is refused with ``EditConflict``, carrying a unified diff from the current file to
  the text that was refused, and nothing is written. Check and write happen under one ``fcntl.flock``
  on ``<data>/edit.lock`` (processes and threads alike), so two saves cannot both pass the check.
- **Never a half-written file.** The new text goes to a temporary file in the same folder, is fsynced
  and moved over the old one with ``os.replace``. Everything is validated first (the front matter is
  re-read with the one front-matter parser, so what kb saves is what the indexer and the site read).
- **Revisions** hold the full text, who, when and a message. The first edit of an article records the
  file as it was ("from disk"), and a file changed outside kb since the last revision is recorded as
  such before the edit, so every state the site showed can be restored.
- **Git.** When the docs folder is inside a git repository, each change is also a commit of that one
  file with the editor as author (git CLI). Git failing (no git, a locked index, a hook) is reported in
  the result and logged; the edit itself stands.
- **Attribution.** Only the editable front-matter fields (title, summary, tags, module, owner,
  review_every) are taken from the editor; every other key (``contributed_by``, ``source_submission``,
  ``license`` of a VIP practice, ``reviewed``) is kept as it was.
- **Deleted articles.** Restoring a revision of an article whose file is gone is refused (410, ``Gone``)
  unless the caller asks to re-create it (``recreate=True``): a restore must not bring back an article
  someone removed without saying so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import fcntl
import json
import logging
import os
import re
import subprocess
import tempfile
import time
import unicodedata
from pathlib import Path, PurePosixPath

import yaml
from bs4 import BeautifulSoup

from indexer import changes
from indexer.articles import ARTICLE_SUFFIXES, FRONT_MATTER, content_hash, parse_article, split_front_matter
from indexer.clock import now_iso
from indexer.errors import ArticleError, Conflict, Gone, InvalidInput, KBError, NotFound, TooLarge
from indexer.i18n import N_, gettext
from indexer.store import transaction

from .render import LEGACY_PRACTICE, legacy_practice_markdown
from .validate import typed_text

log = logging.getLogger(__name__)

MAX_BYTES = 1_000_000  # a whole article file; the longest starter article is ~6 KB
EDITABLE = ("title", "summary", "tags", "module", "owner", "review_every")
LIMITS = {"title": 200, "summary": 500, "module": 60, "owner": 100, "message": 500, "tag": 40}
MAX_TAGS = 20
_SEGMENT = re.compile(r"^[^\x00-\x1f\x7f/\\:*?\"<>|]+$")
# What a page may not carry, whoever wrote it: the site runs only its own scripts (CSP), and markup that
# runs code, loads other documents or submits forms has no place in a help article.
_ACTIVE_TAGS = {"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
                "button", "textarea", "select", "link", "meta", "base", "svg", "math", "template", "noscript"}
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "background", "poster", "data"}
_SAFE_SCHEMES = ("http:", "https:", "mailto:")


class EditConflict(Conflict):
    """The article changed since the editor loaded it: nothing was written; the diff says what differs."""

    code = "edit_conflict"


def create_revisions(db) -> None:
    db.execute("""CREATE TABLE revisions (
        id INTEGER PRIMARY KEY, slug TEXT NOT NULL, path TEXT NOT NULL, ts TEXT NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', text TEXT, content_hash TEXT,
        base_hash TEXT, flag_id INTEGER, restored_from INTEGER, git_commit TEXT, git_error TEXT)""")
    db.execute("CREATE INDEX revisions_slug ON revisions (slug, id)")


MIGRATIONS = [create_revisions]
ACTIONS = ("disk", "save", "new", "restore", "reviewed")


# -- paths and slugs ------------------------------------------------------------------------------
def check_slug(slug) -> str:
    """A slug that names a file inside the docs folder: relative, no '..', no hidden or private parts."""
    if not isinstance(slug, str) or not slug.strip():
        raise InvalidInput(N_("请填写文章地址：文章在文档文件夹中的路径，不带 .md，例如 import/excel-import"), field="slug")
    slug = unicodedata.normalize("NFC", slug.strip().rstrip("/"))
    if len(slug.encode("utf-8")) > 300:
        raise InvalidInput(N_("文章地址太长了（最多 300 字节），请缩短"), field="slug")
    parts = slug.split("/")
    if any(len(part.encode("utf-8")) > 200 for part in parts):
        raise InvalidInput(N_("文章地址中的文件夹名或文件名太长了（每段最多 200 字节）"), field="slug")
    for part in parts:
        if part in ("", ".", "..") or part.startswith((".", "_")) or not _SEGMENT.match(part):
            raise InvalidInput(N_("文章地址 %(slug)r 必须在文档文件夹之内：只能由文件夹名和文件名组成，不能有 '..'，"
                                  "不能以 . 或 _ 开头，不能含 \\ : * ? \" < > |"), field="slug", slug=slug)
    return slug


def _inside(docs: Path, path: Path) -> Path:
    root = docs.resolve()
    resolved = path.resolve()
    if root != resolved and root not in resolved.parents:
        raise InvalidInput(N_("%(name)s：这个路径指向了文档文件夹之外"), field="slug", name=path.name)
    return resolved


def source_path(docs: Path, slug: str) -> Path | None:
    """The file holding slug (slug.md, .mdx, .markdown, or slug/index.md, slug/README.md), or None."""
    docs = Path(docs)
    slug = check_slug(slug)
    candidates = [docs / f"{slug}{suffix}" for suffix in ARTICLE_SUFFIXES]
    candidates += [docs / slug / name for name in ("index.md", "README.md", "readme.md")]
    if slug == "index":
        candidates += [docs / "README.md"]
    for path in candidates:
        if path.is_file():
            _inside(docs, path)
            return path
    return None


def _relpath(docs: Path, path: Path) -> str:
    return path.resolve().relative_to(Path(docs).resolve()).as_posix()


# -- reading --------------------------------------------------------------------------------------
def read_article(docs: Path, slug: str) -> dict:
    """The article as the editor shows it: {slug, path, fields, meta, body, text, hash}."""
    path = source_path(docs, slug)
    if path is None:
        raise NotFound(N_("文档文件夹里没有文章 %(slug)r，请检查地址"), slug=slug)
    text = _read(path)
    try:
        meta, body, _ = split_front_matter(text, _relpath(docs, path))
        broken = None
    except ArticleError as exc:  # let the manager repair it here: the whole file becomes the body
        meta, body, broken = {}, text, exc.text
    if meta.get("source_submission") and LEGACY_PRACTICE.match(body):  # a practice an older kb stored as HTML
        body = legacy_practice_markdown(body) or body  # edit it as Markdown; saving stores the Markdown
    fields = {k: meta.get(k) for k in EDITABLE}
    fields["tags"] = [str(t) for t in meta.get("tags") or []] if isinstance(meta.get("tags"), list) else \
        [t.strip() for t in str(meta.get("tags") or "").split(",") if t.strip()]
    fields = {k: ("" if v is None else v) for k, v in fields.items()}
    return {"slug": check_slug(slug), "path": _relpath(docs, path), "fields": fields, "meta": _jsonable(meta),
            "body": body.lstrip("\n"), "text": text, "hash": content_hash(text), "broken_front_matter": broken}


def _jsonable(meta: dict) -> dict:
    return json.loads(json.dumps(meta, ensure_ascii=False, default=str))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(N_("%(name)s 不是 UTF-8 文本，请先在 kb 之外修正它"), name=path.name) from None


# -- validating and composing -------------------------------------------------------------------
def _line(value, name: str, limit: int, required: bool = False) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # YAML front matter: `review_every: 90` is a number, shown in a text field
    value = typed_text(value, name)
    if "\n" in value or "\r" in value:
        raise InvalidInput(N_("%(field)s 只能写一行"), field=name)
    if re.search(r"[<>`]", value):
        raise InvalidInput(N_("%(field)s 不能包含 < > 或 `（它会显示在标题和导航中）"), field=name)
    if required and not value:
        raise InvalidInput(N_("请填写 %(field)s"), field=name)
    if len(value) > limit:
        raise InvalidInput(N_("%(field)s 太长了：%(length)s 个字符，最多 %(limit)s 个"), field=name, length=len(value),
                           limit=limit)
    return value


def _yaml_value(value, name: str):
    """A field typed as YAML in the form ("[a, b]", "180"): parsed, or a 400 naming the field and the problem."""
    if not isinstance(value, str) or not value.strip().startswith(("[", "{", "'", '"', "&", "*", "!", "|", ">")):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(N_("%(field)s 不是有效的 YAML（%(problem)s），请检查括号和引号"), field=name,
                           problem=problem) from None


def clean_fields(fields, title_required: bool = True) -> dict:
    """The editable front-matter fields, validated (unknown fields and broken YAML are a 400).

    Without title_required an empty title leaves the title to the article's first heading, as before."""
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise InvalidInput(N_("fields 必须是一组文章属性：%(editable)s"), field="fields", editable=", ".join(EDITABLE))
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(N_("这里不能编辑这些文章属性：%(unknown)s（可以编辑的有：%(editable)s）"), field="fields",
                           unknown=", ".join(sorted(unknown)), editable=", ".join(EDITABLE))
    out: dict = {}
    for name in ("title", "summary", "module", "owner"):
        value = _yaml_value(fields.get(name, ""), name)
        out[name] = _line(value, name, LIMITS[name], required=name == "title" and title_required)
    tags = _yaml_value(fields.get("tags") or [], "tags")
    if isinstance(tags, str):
        tags = re.split(r"[,\uff0c]", tags)  # , or the full-width ，
    if not isinstance(tags, list):
        raise InvalidInput(N_("标签必须是一组词"), field="tags")
    tags = [_line(t, "tags", LIMITS["tag"]) for t in tags]
    tags = list(dict.fromkeys(t for t in tags if t))
    if len(tags) > MAX_TAGS:
        raise InvalidInput(N_("最多只能有 %(limit)s 个标签"), field="tags", limit=MAX_TAGS)
    out["tags"] = tags
    every = _yaml_value(fields.get("review_every"), "review_every")
    if every in (None, ""):
        out["review_every"] = None
    else:
        if isinstance(every, bool) or not (isinstance(every, int) or (isinstance(every, str) and every.strip().isdigit())):
            raise InvalidInput(N_("复审周期（review_every）必须是整数天数"), field="review_every")
        out["review_every"] = int(every)
        if not 1 <= out["review_every"] <= 36500:
            raise InvalidInput(N_("复审周期（review_every）必须在 1 到 36500 天之间"), field="review_every")
    return out


def check_body(body) -> str:
    """The Markdown body: text, and no markup that runs code or loads other documents."""
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise InvalidInput(N_("正文必须是文本：文章的 Markdown"), field="body")
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(N_("正文含有无效的字符，请删除后再保存"), field="body") from None
    if size > MAX_BYTES:
        raise TooLarge(N_("文章太大了（%(size)s 字节，最多 %(limit)s 字节），请拆分或缩短"), field="body", size=f"{size:,}",
                       limit=f"{MAX_BYTES:,}")
    if "\x00" in body:
        raise InvalidInput(N_("正文含有 NUL 字符，请删除后再保存"), field="body")
    _refuse_active_markup(body)
    return body


def _refuse_active_markup(body: str) -> None:
    from indexer.articles import markdown_html  # the site's own Markdown set-up: attr_list can add attributes too

    try:
        soup = BeautifulSoup(markdown_html(body), "lxml")
    except RecursionError:
        raise InvalidInput(N_("正文嵌套太深，无法显示，请减少列表或引用的层级"), field="body") from None
    for tag in soup.find_all(True):
        if tag.name in _ACTIVE_TAGS:
            raise InvalidInput(N_("正文含有 <%(tag)s>，帮助文章不能使用这种标记"), field="body", tag=tag.name)
        for attr, value in tag.attrs.items():
            if attr.lower().startswith("on") or attr.lower() == "srcdoc":
                raise InvalidInput(N_("正文含有事件处理或框架属性（%(attr)s=…），帮助文章不能使用"), field="body",
                                   attr=attr)
            if attr.lower() in _URL_ATTRS:
                url = re.sub(r"[\x00-\x20]", "", str(value)).lower()
                if ":" in url.split("/")[0] and not url.startswith(_SAFE_SCHEMES):
                    raise InvalidInput(N_("正文链接到 %(link)r：只允许 http(s)、mailto 和相对链接"), field="body",
                                       link=str(value)[:40])


def compose(meta: dict, fields: dict, body: str) -> str:
    """The file text: the existing front matter (every key kept, order kept) with the edited fields set."""
    new = dict(meta)
    for name in EDITABLE:
        value = fields.get(name)
        if value in (None, "", []):
            new.pop(name, None)
        else:
            new[name] = value
    front = yaml.safe_dump(new, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    return f"---\n{front}---\n\n{body.strip()}\n"


def _validated_text(text: str, relpath: str) -> str:
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise TooLarge(N_("文章太大了（%(size)s 字节，最多 %(limit)s 字节），请拆分或缩短"), field="body", size=f"{size:,}",
                       limit=f"{MAX_BYTES:,}")
    try:
        parse_article(text, relpath)  # what the indexer and the site will read
    except RecursionError:
        raise InvalidInput(N_("文章嵌套太深，无法显示，请减少列表或引用的层级"), field="body") from None
    except ArticleError as exc:
        raise InvalidInput(N_("这样保存后文章将无法读取：%(problem)s"), field="fields", problem=exc) from None
    return text


def _message(message) -> str:
    return _line(message or "", "message", LIMITS["message"])


# -- writing --------------------------------------------------------------------------------------
@contextlib.contextmanager
def edit_lock(lock_dir: Path):
    """One edit at a time on this data folder (processes and threads: each call opens its own descriptor)."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "edit.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_atomically(path: Path, text: str) -> None:
    """Write text to path via a temporary file in the same folder, fsynced, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def conflict_diff(current: str, attempted: str, path: str) -> str:
    """Unified diff from the file as it is now to the text that was refused."""
    return "".join(difflib.unified_diff(current.splitlines(keepends=True), attempted.splitlines(keepends=True),
                                        gettext("%(path)s (现在的版本)", path=path),
                                        gettext("%(path)s (你的修改)", path=path)))


def _check_base(current: str | None, base_hash, attempted: str, relpath: str) -> None:
    current_hash = content_hash(current) if current is not None else None
    if base_hash != current_hash:
        if current is None:
            raise EditConflict(N_("%(path)s 已经不存在了：它在你打开之后被删除了"), current_hash=None, diff="",
                               path=relpath)
        raise EditConflict(N_("%(path)s 在你打开之后被改过（有人保存过，或者磁盘上的文件被修改了），这次没有保存。"
                              "请对比差异，刷新后重新做一遍你的修改。"), path=relpath,
                           current_hash=current_hash, diff=conflict_diff(current, attempted, relpath),
                           current_text=current)


def _last_revision(db, slug: str) -> dict | None:
    row = db.execute("SELECT id, content_hash FROM revisions WHERE slug = ? ORDER BY id DESC LIMIT 1", [slug]).fetchone()
    return {"id": row[0], "content_hash": row[1]} if row else None


def _record(db, **row) -> int:
    row.setdefault("ts", now_iso())
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return db.execute(f"INSERT INTO revisions ({cols}) VALUES ({marks}) RETURNING id", list(row.values())).fetchone()[0]


def _remember_disk(db, slug: str, relpath: str, current: str | None) -> None:
    """Record the file as it is before kb changes it, if no revision holds that text yet."""
    if current is None:
        return
    last = _last_revision(db, slug)
    if last is None or last["content_hash"] != content_hash(current):
        _record(db, slug=slug, path=relpath, actor=gettext("(磁盘上的文件)"), action="disk",
                message=gettext("编辑前的版本") if last is None else gettext("在 kb 之外修改的版本"), text=current,
                content_hash=content_hash(current))


def _apply(docs: Path, db, lock_dir: Path, slug: str, path: Path, build_text, base_hash, actor: str, action: str,
           message: str, flag_id=None, restored_from=None, must_exist: bool = True) -> dict:
    """Under the lock: check the base hash, write, record; then git and the flag hook (outside the lock's failure)."""
    relpath = _relpath(docs, path) if path.exists() else path.relative_to(Path(docs)).as_posix()
    _inside(docs, path.parent)
    for parent in [path.parent, *path.parent.parents]:
        if parent.exists() and not parent.is_dir():
            raise InvalidInput(N_("%(path)s：%(name)s 是一个文件，不是文件夹"), field="slug", path=relpath,
                                 name=parent.name)
        if parent == Path(docs):
            break
    with edit_lock(lock_dir):
        current = _read(path) if path.exists() else None
        if must_exist and current is None:
            raise NotFound(N_("文档文件夹里没有文章 %(slug)r（是不是在你打开之后被删除了？）"), slug=slug)
        text = _validated_text(build_text(current), relpath)
        _check_base(current, base_hash, text, relpath)
        if current is not None and text == current:
            return {"slug": slug, "path": relpath, "hash": content_hash(text), "revision": None, "unchanged": True,
                    "git": None}
        with transaction(db):
            _remember_disk(db, slug, relpath, current)
            write_atomically(path, text)  # inside the transaction: a failed write records nothing
            rev = _record(db, slug=slug, path=relpath, actor=actor, action=action, message=message, text=text,
                          content_hash=content_hash(text), base_hash=base_hash, flag_id=flag_id,
                          restored_from=restored_from)
            # lock_dir is this node's data folder: the other nodes re-read the file and re-render its page
            changes.record(db, action, slug, relpath, changes.node_id(lock_dir))
        git = commit_to_git(docs, path, actor, message or _default_message(action, slug))
        db.execute("UPDATE revisions SET git_commit = ?, git_error = ? WHERE id = ?",
                   [git.get("commit"), git.get("error"), rev])
        db.conn.commit()
    linked = link_flag(db, flag_id, slug, actor) if flag_id else None
    return {"slug": slug, "path": relpath, "hash": content_hash(text), "revision": rev, "unchanged": False,
            "git": git, "flag_linked": linked}


def _default_message(action: str, slug: str) -> str:
    words = {"save": N_("编辑 %(slug)s"), "new": N_("新建 %(slug)s"), "restore": N_("恢复 %(slug)s"),
             "reviewed": N_("标记已审核 %(slug)s")}
    return gettext(words[action], slug=slug) if action in words else slug


def _flag_id(flag_id):
    if flag_id in (None, ""):
        return None
    if isinstance(flag_id, bool) or not isinstance(flag_id, int) and not (isinstance(flag_id, str) and flag_id.isdigit()):
        raise InvalidInput(N_("flag_id 必须是一个问题或缺口的编号"), field="flag_id")
    value = int(flag_id)
    if not 0 < value < 2**63:
        raise InvalidInput(N_("flag_id 必须是一个问题或缺口的编号"), field="flag_id")
    return value


def save_article(docs: Path, db, lock_dir: Path, slug: str, fields, body, base_hash, actor: str, message="",
                 flag_id=None) -> dict:
    """Save an edit of an existing article (validated, refused with the diff if it changed since base_hash)."""
    slug = check_slug(slug)
    fields, body = clean_fields(fields, title_required=False), check_body(body)
    message, flag_id = _message(message), _flag_id(flag_id)
    if not isinstance(base_hash, str) or not base_hash:
        raise InvalidInput(N_("缺少 base_hash：你开始编辑时那份内容的哈希（来自编辑器或 GET /api/edit/article）"),
                           field="base_hash")
    path = source_path(docs, slug)
    if path is None:
        raise NotFound(N_("文档文件夹里没有文章 %(slug)r，请检查地址"), slug=slug)

    def build(current):
        try:
            meta, _, _ = split_front_matter(current or "")
        except ArticleError:
            meta = {}  # a broken front matter is being repaired: start from the fields alone
        return compose(meta, fields, body)

    return _apply(Path(docs), db, lock_dir, slug, path, build, base_hash, actor, "save", message, flag_id)


def new_article(docs: Path, db, lock_dir: Path, fields, body, actor: str, slug: str | None = None, message="",
                flag_id=None) -> dict:
    """Create an article (slug from the title unless given); Conflict if that slug exists."""
    from .publish import slugify

    fields, body, message, flag_id = clean_fields(fields), check_body(body), _message(message), _flag_id(flag_id)
    slug = check_slug(slug) if slug else slugify(fields["title"])
    if source_path(docs, slug) is not None:
        raise Conflict(N_("文章 %(slug)r 已经存在：请换一个地址，或者去编辑那篇文章"), field="slug", slug=slug)
    path = Path(docs) / f"{slug}.md"
    meta = dict.fromkeys(EDITABLE) | {"reviewed": dt.date.today().isoformat()}
    return _apply(Path(docs), db, lock_dir, slug, path, lambda current: compose(meta, fields, body), None, actor,
                  "new", message, flag_id, must_exist=False)


def restore(docs: Path, db, lock_dir: Path, slug: str, revision_id: int, base_hash, actor: str, message="",
            recreate: bool = False) -> dict:
    """Make revision_id's text the article's again (a new revision). A deleted article: Gone unless recreate."""
    slug = check_slug(slug)
    rev = get_revision(db, revision_id)
    if rev["slug"] != slug:
        raise NotFound(N_("第 %(revision)s 号修订不属于文章 %(slug)r"), revision=revision_id, slug=slug)
    path = source_path(docs, slug)
    if path is None:
        if not recreate:
            raise Gone(N_("%(slug)r 已被删除；恢复第 %(revision)s 号修订会重新创建它。确实要这样做，请发送 "
                          "recreate: true（或使用 `kb edit restore --recreate`）。"), revision=revision_id, slug=slug)
        path = Path(docs) / rev["path"]
        _inside(Path(docs), path.parent if path.parent.exists() else Path(docs))
        check_slug(PurePosixPath(rev["path"]).with_suffix("").as_posix())
        base_hash = None
    message = _message(message) or gettext("恢复到第 %(n)s 号修订", n=revision_id)
    return _apply(Path(docs), db, lock_dir, slug, path, lambda current: rev["text"], base_hash, actor, "restore",
                  message, restored_from=revision_id, must_exist=not recreate)


def mark_reviewed(docs: Path, db, lock_dir: Path, slug: str, actor: str, base_hash=None,
                  today: dt.date | None = None) -> dict:
    """Set ``reviewed:`` to today and change nothing else in the file (other lines byte for byte)."""
    slug = check_slug(slug)
    path = source_path(docs, slug)
    if path is None:
        raise NotFound(N_("文档文件夹里没有文章 %(slug)r，请检查地址"), slug=slug)
    day = (today or dt.date.today()).isoformat()

    def build(current):
        return bump_reviewed(current, day)

    if base_hash is None:  # the CLI and "mark reviewed" buttons: the current file is what was reviewed
        base_hash = content_hash(_read(path))
    return _apply(Path(docs), db, lock_dir, slug, path, build, base_hash, actor, "reviewed",
                  gettext("标记已审核 %(day)s", day=day))


def bump_reviewed(text: str, day: str) -> str:
    """text with its front matter's reviewed: line set to day (added if missing)."""
    match = FRONT_MATTER.match(text)
    if not match:
        return f"---\nreviewed: {day}\n---\n" + text.lstrip("\ufeff")
    block = match.group(1) or ""
    start = match.start(1) if match.group(1) is not None else text.index("\n") + 1
    if re.search(r"^reviewed[ \t]*:.*$", block, re.M):
        block = re.sub(r"^reviewed[ \t]*:.*$", f"reviewed: {day}", block, count=1, flags=re.M)
    else:
        block = block + f"reviewed: {day}\n"
    end = match.end(1) if match.group(1) is not None else start
    return text[:start] + block + text[end:]


# -- history ----------------------------------------------------------------------------------------
_LIST_COLUMNS = "id, slug, path, ts, actor, action, message, content_hash, base_hash, flag_id, restored_from, " \
                "git_commit, git_error"


def history(db, slug: str) -> list[dict]:
    """The article's revisions, newest first, without their text."""
    slug = check_slug(slug)
    cur = db.execute(f"SELECT {_LIST_COLUMNS} FROM revisions WHERE slug = ? ORDER BY id DESC", [slug])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def get_revision(db, revision_id) -> dict:
    """One revision with its full text; NotFound if there is none."""
    if isinstance(revision_id, bool) or not isinstance(revision_id, int) or not 0 < revision_id < 2**63:
        raise InvalidInput(N_("revision 必须是一个修订的编号"), field="revision")
    cur = db.execute(f"SELECT {_LIST_COLUMNS}, text FROM revisions WHERE id = ?", [revision_id])
    row = cur.fetchone()
    if row is None:
        raise NotFound(N_("没有第 %(revision)s 号修订"), revision=revision_id)
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def edited_slugs(db, limit: int = 50) -> list[dict]:
    """Articles edited in kb, most recently edited first: {slug, ts, actor, revisions}."""
    rows = db.execute("SELECT slug, max(ts), count(*) FROM revisions WHERE action != 'disk' GROUP BY slug "
                      "ORDER BY max(id) DESC LIMIT ?", [limit]).fetchall()
    return [{"slug": r[0], "ts": r[1], "revisions": r[2]} for r in rows]


# -- git and the flag hook ----------------------------------------------------------------------------
def _git(docs: Path, *args, env=None, timeout=30) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(docs), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)


def commit_to_git(docs: Path, path: Path, actor: str, message: str) -> dict:
    """Commit path with actor as author when docs is in a git repository: {commit} or {error}, or {} if no git."""
    try:
        inside = _git(docs, "rev-parse", "--is-inside-work-tree", timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"git not available: {exc}"}
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return {}
    email = re.sub(r"[^A-Za-z0-9._-]+", "-", actor).strip("-").lower() or "editor"
    env = {**os.environ, "GIT_AUTHOR_NAME": actor, "GIT_AUTHOR_EMAIL": f"{email}@kb.invalid",
           "GIT_COMMITTER_NAME": "kb", "GIT_COMMITTER_EMAIL": "kb@kb.invalid"}
    rel = str(path.resolve())
    try:
        added = _git(docs, "add", "--", rel, env=env)
        if added.returncode != 0:
            raise RuntimeError(added.stderr.strip() or "git add failed")
        done = _git(docs, "commit", "--no-verify", "-q", "-m", message, "--", rel, env=env)
        if done.returncode != 0:
            raise RuntimeError((done.stderr or done.stdout).strip() or "git commit failed")
        head = _git(docs, "rev-parse", "HEAD", env=env)
        return {"commit": head.stdout.strip()}
    except (OSError, subprocess.TimeoutExpired, RuntimeError) as exc:
        log.warning("git commit of %s failed: %s", path, exc)
        return {"error": gettext("已保存，但 git 提交失败：%(error)s", error=str(exc))}


def link_flag(db, flag_id: int, slug: str, actor: str):
    """Tell the flag queue an edit was made for flag_id: analytics.closure.link_fix records the failure rate
    of the flag's searches before the fix, resolves the flag, and later analyses verify the fix."""
    from analytics import closure

    try:
        return closure.link_fix(db, flag_id, slug, actor) or True
    except KBError as exc:  # an unknown or closed flag does not undo the edit
        log.warning("linking flag %s to %s: %s", flag_id, slug, exc.message)
        return {"error": exc.message}


def reindex(docs: Path, data: Path, attempts: int = 100):
    """Incremental index update after an edit; edits re-index one at a time (the edit lock), and a publication
    holding Whoosh's writer lock is waited for (up to attempts × 0.1 s)."""
    from whoosh.index import LockError

    from indexer.build import update_incremental

    for attempt in range(attempts):
        try:
            with edit_lock(data):
                return update_incremental(Path(docs), Path(data))
        except LockError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)
    return None
