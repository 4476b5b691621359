"""Publishing approved practices into docs/practices/, and taking them down again.

The publisher writes the front matter itself, with yaml.safe_dump, from validated fields only — no
customer text is ever pasted into YAML, so `---` or `title: x` in a field stays text. The body is
the customer's Markdown rendered and sanitized (render.py), so nothing they wrote can run in a
reader's browser, then written back as Markdown (every character of their text escaped) and kept only
if the site's own renderer shows exactly the sanitized page; otherwise the sanitized HTML is stored
as before. Markdown is what the article editor edits and what gives the page a table of contents.
Files are written atomically (temporary file, then os.replace).

Review first: a file is written only after the submission was found approved and claimed (its slug
fixed) in one transaction, so nothing reaches the site or search without a manager's approval.

Crash safety: "approved" is committed before the file is written and "published" only after the
file is written and indexed. `recover()` (run when the service starts) finishes any approved
submission, so after a kill -9 anywhere in between the state is consistent: either published with
the file present and indexed, or approved and retried. It also removes any practice file whose
submission is neither approved nor published (unpublished, or left behind by an older kb that wrote
before checking), so a page is live only while its submission says so.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import threading
import unicodedata
from pathlib import Path

import yaml
from pypinyin import lazy_pinyin

from indexer import changes
from indexer.errors import Conflict, KBError
from indexer.store import transaction

from . import queue
from .editing import reindex, write_atomically
from .render import practice_markdown, render_markdown

log = logging.getLogger(__name__)
PRACTICES = "practices"
REVIEW_EVERY = 365
_lock = threading.Lock()  # one publication at a time: file, index and site move together
# The index is updated through editing.reindex (the data folder's edit lock, waiting for Whoosh's writer): with
# several nodes, this node's change follower re-indexes other nodes' changes at any moment.


def slugify(title: str) -> str:
    """A safe file-name slug: Chinese as pinyin, ASCII letters, digits and dashes only."""
    words = lazy_pinyin(unicodedata.normalize("NFKC", title))
    # Accented Latin letters lose their accents (Ü → U); anything else non-ASCII is dropped.
    text = unicodedata.normalize("NFKD", "-".join(words)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].rstrip("-") or "practice"
    # index/readme would become the section's own page (/practices/), not an article of it
    return f"{text}-practice" if text in ("index", "readme") else text


def unique_slug(db, docs_dir: Path, sid: int, title: str) -> str:
    """slugify(title), with -2, -3 ... when an article or another submission already has it."""
    taken = queue.slugs_in_use(db, except_id=sid)
    base = slugify(title)
    for n in range(1, 1000):
        slug = base if n == 1 else f"{base}-{n}"
        path = Path(docs_dir) / PRACTICES / f"{slug}.md"
        if slug not in taken and (not path.exists() or _source_of(path) == sid):
            return slug
    raise RuntimeError(f"no free slug for {title!r}")


def _source_of(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8")
        meta = yaml.safe_load(text.split("---", 2)[1]) or {}
        return int(meta.get("source_submission"))
    except (OSError, ValueError, TypeError, IndexError, yaml.YAMLError):
        return None


def practice_file(sub: dict, today: dt.date | None = None) -> str:
    """The Markdown file of a published practice: generated front matter + the sanitized body as Markdown."""
    meta = {
        "title": sub["title"], "summary": sub["summary"], "tags": list(sub["tags"]),
        "module": sub["module"] or "practices", "owner": sub.get("assigned_to") or "knowledge team",
        "reviewed": (today or dt.date.today()).isoformat(), "review_every": REVIEW_EVERY,
        "contributed_by": sub["organisation"], "source_submission": sub["id"], "license": "CC BY 4.0",
    }
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, default_flow_style=False)
    # Markdown, so that the article editor edits it and the site gives it a table of contents: converted from the
    # sanitized HTML and checked against the site's own renderer (render.markdown_of).
    markdown = practice_markdown(sub["title"], sub["body"])
    if markdown is not None:
        return f"---\n{front}---\n\n{markdown}"
    log.warning("submission %s: its Markdown would not render exactly as sanitized; published as HTML", sub.get("id"))
    # Title and body go in as HTML, inside one raw block: MkDocs must not run Markdown over them a second
    # time, or text nh3 left inert ("[x](javascript:…)", "{: onfocus=…}") would become live markup.
    title = html.escape(re.sub(r"[\r\n]+", " ", sub["title"]))
    body = render_markdown(sub["body"]).strip()
    return f'---\n{front}---\n\n<div class="kb-practice" markdown="0">\n<h1>{title}</h1>\n{body}\n</div>\n'



class Publisher:
    """Moves approved submissions into the docs folder, the index and the site."""

    def __init__(self, docs_dir: Path, data_dir: Path, rebuild_site=None):
        self.docs_dir, self.data_dir = Path(docs_dir), Path(data_dir)
        # callable(changed_paths) -> ticket or None: updates the site's pages for these docs paths (kb serve:
        # in the background, so a manager's click does not wait for it); None in tests that only check the index
        self.rebuild_site = rebuild_site
        self.node = changes.node_id(self.data_dir)  # other nodes apply what this one publishes (indexer/changes.py)

    def _refresh_site(self, slugs) -> str | None:
        if not self.rebuild_site or not slugs:
            return None
        return self.rebuild_site([f"{PRACTICES}/{slug}.md" for slug in slugs])

    def approve_and_publish(self, db, sid: int, manager: dict, version: int | None = None, note: str = "") -> dict:
        """Approve (committed first), then publish. If publishing fails (a crash, a locked index, a full
        disk) the submission stays approved: `publish` retries it, and so do `recover()` and the schedule."""
        queue.transition(db, sid, "approve", manager, version, note)
        try:
            return self.publish(db, sid, manager)
        except Exception as exc:  # noqa: BLE001 - approved is committed; say what failed, keep it retryable
            sub = queue.get(db, sid)
            if sub["state"] == "published":  # a retry (recovery, another process) finished it first: success
                return sub
            log.exception("publishing submission %s failed", sid)
            sub["publish_error"] = f"approved, but publishing failed ({exc}); it will be retried (or use publish)"
            # what failed, for a page that says the rest in its own language
            sub["publish_failure"] = exc.text if isinstance(exc, KBError) else str(exc)
            return sub

    def publish(self, db, sid: int, actor: dict, version: int | None = None) -> dict:
        """Publish an approved submission: claim it (state checked, slug fixed), then write its file, index it,
        rebuild the site and mark it published. Conflict, with nothing written, unless it is approved."""
        with _lock:
            sub = queue.claim_publication(db, sid, actor, version,
                                          lambda s: unique_slug(db, self.docs_dir, sid, s["title"]))
            write_atomically(self.docs_dir / PRACTICES / f"{sub['slug']}.md", practice_file(sub))
            reindex(self.docs_dir, self.data_dir)
            ticket = self._refresh_site([sub["slug"]])
            try:
                with transaction(db):  # published, and in the change feed for the other nodes, together
                    result = queue.transition(db, sid, "publish", actor)
                    changes.record(db, "publish", sub["slug"], f"{PRACTICES}/{sub['slug']}.md", self.node)
                return _with_ticket(result, ticket)
            except Conflict:
                current = queue.get(db, sid)
                if current["state"] == "published":  # another publisher (a retry elsewhere) got there first
                    return _with_ticket(current, ticket)
                raise  # cannot happen while only "publish" leaves approved; recover() removes the file if it did

    def unpublish(self, db, sid: int, manager: dict, version: int | None = None, note: str = "") -> dict:
        """Take a published practice off the site and out of search; its history stays.

        The file is removed inside the transaction that records the state and the change-feed row, so another
        node that sees the row finds the file gone; if the commit fails after the file went, the submission is
        still published and recover() writes the file again."""
        with _lock:
            with transaction(db):
                result = queue.transition(db, sid, "unpublish", manager, version, note)
                removed = self._remove(result)
                if result["slug"]:
                    changes.record(db, "unpublish", result["slug"], f"{PRACTICES}/{result['slug']}.md", self.node)
            if removed:
                reindex(self.docs_dir, self.data_dir)
            return _with_ticket(result, self._refresh_site([result["slug"]] if result["slug"] else []))

    def _remove(self, sub: dict) -> bool:
        path = self.docs_dir / PRACTICES / f"{sub['slug']}.md"
        if sub["slug"] and path.exists() and _source_of(path) == sub["id"]:
            path.unlink()
            return True
        return False

    def recover(self, db) -> list[int]:
        """Finish what a crash or a failure interrupted: take down practice files whose submission is neither
        approved nor published, publish approved submissions, rewrite missing files of published ones.
        Returns the submissions acted on; one that still fails is logged and left for next time."""
        system = {"id": 0, "name": "kb-recover"}  # the name its actions are recorded under
        slugs: list[str] = []
        try:
            done = self._remove_unapproved_files(db, slugs)
        except Exception:  # noqa: BLE001 - the service must still start; the next run tries again
            log.exception("could not take down practice files of unapproved submissions; will retry")
            done = []
        for state in ("approved", "published"):
            for sub in queue.list_submissions(db, states=(state,)):
                try:
                    if state == "approved":
                        self.publish(db, sub["id"], system)
                    elif not (self.docs_dir / PRACTICES / f"{sub['slug']}.md").exists():
                        with _lock:
                            write_atomically(self.docs_dir / PRACTICES / f"{sub['slug']}.md",
                                              practice_file(sub, today=_reviewed_on(sub)))
                            reindex(self.docs_dir, self.data_dir)
                            self._announce(db, [sub["slug"]])
                    else:
                        continue
                    done.append(sub["id"])
                    slugs.append(queue.get(db, sub["id"])["slug"] or "")
                except Exception:  # noqa: BLE001 - one bad submission must not stop the service starting
                    log.exception("could not finish submission %s (%s); will retry", sub["id"], state)
        self._refresh_site([s for s in slugs if s])
        return done

    def _remove_unapproved_files(self, db, slugs: list[str]) -> list[int]:
        """Delete the publisher's files (source_submission set) whose submission is not approved or published
        under that slug. Hand-written files and files of submissions this database does not have are left."""
        removed = []
        with _lock:
            for path in sorted((self.docs_dir / PRACTICES).glob("*.md")):
                sid = _source_of(path)
                sub = queue.find(db, sid) if sid is not None else None
                if sub is None or (sub["state"] in ("approved", "published") and sub["slug"] == path.stem):
                    continue
                log.warning("removing %s: submission %s is %s", path, sid, sub["state"])
                path.unlink()
                slugs.append(path.stem)
                if sid not in removed:
                    removed.append(sid)
            if removed:
                reindex(self.docs_dir, self.data_dir)
                self._announce(db, slugs)
        return removed

    def _announce(self, db, slugs) -> None:
        """Tell the other nodes about files recovery wrote or removed (in the shared docs folder)."""
        with transaction(db):
            for slug in slugs:
                changes.record(db, "recover", slug, f"{PRACTICES}/{slug}.md", self.node)


def _with_ticket(sub: dict, ticket: str | None) -> dict:
    """The submission, with the ticket of the site update that shows the change (GET /api/site/status)."""
    if ticket:
        sub = dict(sub, site_ticket=ticket)
    return sub


def _reviewed_on(sub: dict) -> dt.date:
    """The review date a rewritten file keeps: when it was published, not today (staleness must not reset)."""
    try:
        return dt.date.fromisoformat((sub.get("published_at") or "")[:10])
    except ValueError:
        return dt.date.today()
