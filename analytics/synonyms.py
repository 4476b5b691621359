"""Learned synonyms: word pairs customers use for what the articles call something else.

Sole owner of the ``synonyms`` and ``synonym_events`` tables. From reformulations in the event log
(a search nobody clicked, followed in the same session within the reformulation window by a search
whose clicked article was kept: no bounce, no 👎) kb takes the words only the first query had and
the words only the second had. It proposes "customer words → article words" (导进来 → 导入,
"sign in" → 登录) when the kept article contains the article words but not the customer words (a
vocabulary mismatch, not a change of topic), at least ``min_sessions`` sessions made the same
change, it is the usual rewrite of those customer words (``min_share`` of their reformulations), and
the articles rarely use the customer words (in at most ``max_customer_df`` as many articles as the
article words, and at most ``max_customer_share`` of all articles: 甘特图 → 发票 or 权限 → 插件 is a
reader changing topic, not a word the articles lack). Thresholds chosen on the third-party dev set
(``tests/bench/km_signals.py``).
A knowledge manager approves or rejects each proposal; approved pairs join query-time synonym
expansion (``indexer.query.ArticleIndex.set_learned_synonyms``), customer words → article words.
Every decision is recorded with who and when in ``synonym_events``, in the same transaction.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from indexer import changes
from indexer.analysis import expand_synonyms, has_cjk, normalize, segment, stopwords
from indexer.clock import now_iso
from indexer.errors import Conflict, InvalidInput, NotFound
from indexer.i18n import N_
from indexer.store import transaction

from . import events
from .failing import _seconds

STATES = ("proposed", "approved", "rejected")
DECISIONS = {"approve": "approved", "reject": "rejected"}
BOUNCE_SECONDS = 30
MAX_PHRASE_CHARS = 20
MAX_EXAMPLES = 5
# An English particle right after a verb belongs to it ("sign in", "log out", "set up"), though a
# stop word on its own.
PARTICLES = frozenset({"in", "on", "off", "out", "up", "down"})


def create_synonym_tables(db) -> None:
    db["synonyms"].create({
        "id": int, "customer": str, "article": str, "state": str, "sessions": int, "examples": str, "slugs": str,
        "proposed_at": str, "updated_at": str, "decided_by": str, "decided_at": str, "note": str, "version": int,
    }, pk="id")
    db["synonyms"].create_index(["customer", "article"], unique=True)
    db["synonyms"].create_index(["state"])
    db["synonym_events"].create({"id": int, "synonym_id": int, "ts": str, "actor": str, "action": str, "note": str},
                                pk="id", foreign_keys=[("synonym_id", "synonyms", "id")])
    db["synonym_events"].create_index(["synonym_id"])


MIGRATIONS = [create_synonym_tables]


# -- mining ----------------------------------------------------------------------------------
def _words(text: str) -> list[tuple[str, int, int]]:
    return [(w, s, e) for w, s, e in segment(text) if w.strip() and any(ch.isalnum() for ch in w)]


def _phrase(text: str, tokens: list[tuple[str, int, int]], only: set[str]) -> str:
    """The stretch of text covering the tokens in `only` (stop words at its edges trimmed, particles kept)."""
    stop = stopwords()
    picked = [i for i, (w, _, _) in enumerate(tokens) if w in only and w not in stop]
    if not picked:
        return ""
    first, last = picked[0], picked[-1]
    if last + 1 < len(tokens) and tokens[last + 1][0] in PARTICLES and tokens[last + 1][0] in only:
        last += 1
    phrase = text[tokens[first][1] : tokens[last][2]].strip()
    return phrase if len(phrase) <= MAX_PHRASE_CHARS else ""


def pair_of(before: str, after: str) -> tuple[str, str] | None:
    """(customer words, article words) that turned query `before` into `after`, or None."""
    a, b = _words(before), _words(after)
    a_set, b_set = {w for w, _, _ in a}, {w for w, _, _ in b}
    customer, article = _phrase(before, a, a_set - b_set), _phrase(after, b, b_set - a_set)
    if customer and article and has_cjk(customer + article) and min(len(customer), len(article)) < 2:
        # The segmenter shared a part of both words (定时跑 → 定时 跑, 定时任务 → 定时 任务): the
        # pair is the whole words, so take the shared word just before both back in.
        shared_a, shared_b = _word_before(before, a, customer), _word_before(after, b, article)
        if not shared_a or shared_a != shared_b:
            return None
        customer, article = shared_a + customer, shared_b + article
    if not customer or not article or customer == article:
        return None
    if has_cjk(customer) and len(customer) < 2:
        return None  # one Chinese character means too little to learn from
    return customer, article


def _word_before(text: str, tokens: list[tuple[str, int, int]], phrase: str) -> str:
    """The word that ends right where phrase starts in text ("" if none)."""
    start = text.find(phrase)
    return next((w for w, _, end in tokens if end == start), "")


def _article_text(article: dict) -> str:
    return normalize(" ".join(str(article.get(k) or "") for k in ("title", "summary", "body", "tags")))


def mine(db, articles: dict[str, dict], start: str, end: str, reformulation_window: int = 120,
         vote_window: int = 1800, min_sessions: int = 3, min_share: float = 0.3,
         max_customer_df: float = 0.3, max_customer_share: float = 0.05) -> list[dict]:
    """Proposals from the reformulations between start and end: [{customer, article, sessions, examples, slugs}]."""
    clicks: dict[str, list[tuple[str, str]]] = defaultdict(list)  # query_id -> [(slug, ts)]
    for query_id, slug, ts in events.clicks_in(db, start, end):
        clicks[query_id].append((slug, ts))
    down: dict[tuple[str, str], list[str]] = defaultdict(list)
    for session, slug, ts in events.down_votes_in(db, start, end):
        down[(session, slug)].append(ts)
    rows = events.session_searches_in(db, start, end)
    texts: dict[str, str] = {}
    found: dict[tuple[str, str], dict] = {}
    tried: Counter = Counter()  # customer words -> sessions that reformulated them into anything kept
    seen_tried: set[tuple[str, str]] = set()
    for i in range(len(rows) - 1):
        qa, session, ts_a, before = rows[i]
        qb, session_b, ts_b, after = rows[i + 1]
        if session_b != session or qa in clicks or not before or not after or before == after:
            continue
        if _seconds(ts_a, ts_b) > reformulation_window:
            continue
        next_ts = rows[i + 2][2] if i + 2 < len(rows) and rows[i + 2][1] == session else None
        kept = [slug for slug, ts in clicks.get(qb, [])
                if not (next_ts and 0 <= _seconds(ts, next_ts) <= BOUNCE_SECONDS)
                and not any(0 <= _seconds(ts, v) <= vote_window for v in down.get((session, slug), ()))]
        if not kept:
            continue
        pair = pair_of(before, after)
        if pair is None:
            continue
        customer, article = pair
        if (customer, session) not in seen_tried:
            seen_tried.add((customer, session))
            tried[customer] += 1
        slug = kept[0]
        if slug not in articles:
            continue
        if slug not in texts:
            texts[slug] = _article_text(articles[slug])
        if article not in texts[slug] or customer in texts[slug]:
            continue  # not a vocabulary mismatch: the article lacks the new words, or has the old ones
        entry = found.setdefault(pair, {"sessions": set(), "examples": [], "slugs": Counter()})
        entry["sessions"].add(session)
        entry["slugs"][slug] += 1
        if len(entry["examples"]) < MAX_EXAMPLES and [before, after] not in entry["examples"]:
            entry["examples"].append([before, after])
    all_texts = None
    df: dict[str, int] = {}

    def doc_frequency(phrase: str) -> int:
        nonlocal all_texts
        if all_texts is None:
            all_texts = [_article_text(a) for a in articles.values()]
        if phrase not in df:
            df[phrase] = sum(phrase in t for t in all_texts)
        return df[phrase]

    proposals = []
    for (customer, article), entry in found.items():
        n = len(entry["sessions"])
        if n < min_sessions or n < min_share * tried[customer]:
            continue
        customer_df = doc_frequency(customer)
        if customer_df > max_customer_df * doc_frequency(article) or customer_df > max_customer_share * len(articles):
            continue  # the articles already use the customer's words widely: a change of topic, not of words
        if article in expand_synonyms(customer):
            continue  # the built-in list already says so
        proposals.append({"customer": customer, "article": article, "sessions": n, "examples": entry["examples"],
                          "slugs": [s for s, _ in entry["slugs"].most_common(3)]})
    proposals.sort(key=lambda p: (-p["sessions"], p["customer"]))
    return proposals


def record_proposals(db, proposals: list[dict]) -> dict:
    """Store new proposals and refresh the evidence of known ones (decisions are kept); counts by outcome."""
    out = Counter()
    now = now_iso()
    with transaction(db):
        for p in proposals:
            row = db.execute("SELECT id FROM synonyms WHERE customer = ? AND article = ?",
                             [p["customer"], p["article"]]).fetchone()
            evidence = {"sessions": p["sessions"], "examples": json.dumps(p["examples"], ensure_ascii=False),
                        "slugs": json.dumps(p["slugs"], ensure_ascii=False), "updated_at": now}
            if row:
                db["synonyms"].update(row[0], evidence)
                out["refreshed"] += 1
            else:
                new_id = db["synonyms"].insert({"customer": p["customer"], "article": p["article"], "state": "proposed",
                                                "proposed_at": now, "decided_by": "", "decided_at": "", "note": "",
                                                "version": 1, **evidence}).last_pk
                db["synonym_events"].insert({"synonym_id": new_id, "ts": now, "actor": "kb analyze",
                                             "action": "proposed", "note": ""})
                out["proposed"] += 1
    return dict(out)


# -- reading and deciding ---------------------------------------------------------------------
def _decode(row: dict) -> dict:
    row = dict(row)
    row["examples"] = json.loads(row.get("examples") or "[]")
    row["slugs"] = json.loads(row.get("slugs") or "[]")
    return row


def list_synonyms(db, state: str | None = None) -> list[dict]:
    """Pairs (all, or in one state), proposals with the most sessions first."""
    if state is not None and state not in STATES:
        raise InvalidInput(N_("状态必须是 %(choices)s 之一"), choices=", ".join(STATES))
    where, params = ("state = ?", [state]) if state else (None, [])
    return [_decode(r) for r in db["synonyms"].rows_where(where, params, order_by="state != 'proposed', sessions DESC, id")]


def get_synonym(db, synonym_id: int) -> dict:
    """One pair with its history; NotFound if there is none."""
    rows = list(db["synonyms"].rows_where("id = ?", [synonym_id]))
    if not rows:
        raise NotFound(N_("没有编号为 %(id)s 的同义词建议"), id=synonym_id)
    out = _decode(rows[0])
    out["history"] = list(db["synonym_events"].rows_where("synonym_id = ?", [synonym_id], order_by="id"))
    return out


def decide(db, synonym_id: int, decision: str, actor: str, version: int | None = None, note: str = "",
           origin: str = "") -> dict:
    """Approve or reject a pair (also a change of mind), audited; Conflict if it changed since `version`.
    origin: the deciding node's id, so that the other nodes (not it) reload their synonyms from the change feed."""
    if decision not in DECISIONS:
        raise InvalidInput(N_("决定必须是 %(choices)s 之一"), choices=", ".join(DECISIONS))
    if not isinstance(note, str) or len(note) > 2000:
        raise InvalidInput(N_("备注必须是文本，最多 2000 个字符"))
    state = DECISIONS[decision]
    now = now_iso()
    with transaction(db):
        current = get_synonym(db, synonym_id)
        if version is not None and version != current["version"]:
            values = {"id": synonym_id, "since": version, "version": current["version"], "state": current["state"]}
            if current["decided_by"]:
                raise Conflict(N_("同义词 %(id)s 在版本 %(since)s 之后被改过（现在是版本 %(version)s，%(by)s 改为 "
                                  "%(state)s），请刷新后重新决定"), by=current["decided_by"], **values,
                               labels={"state": "synonym"})
            raise Conflict(N_("同义词 %(id)s 在版本 %(since)s 之后被改过（现在是版本 %(version)s，%(state)s），"
                              "请刷新后重新决定"), **values, labels={"state": "synonym"})
        if current["state"] == state:
            return current
        db["synonyms"].update(synonym_id, {"state": state, "decided_by": actor, "decided_at": now, "note": note,
                                           "version": current["version"] + 1, "updated_at": now})
        db["synonym_events"].insert({"synonym_id": synonym_id, "ts": now, "actor": actor, "action": state, "note": note})
        changes.record(db, "synonyms", origin=origin)
    return get_synonym(db, synonym_id)


def approved_pairs(db) -> list[tuple[str, str]]:
    """(customer words, article words) of every approved pair, for query-time expansion."""
    return [(c, a) for c, a in db.execute("SELECT customer, article FROM synonyms WHERE state = 'approved' ORDER BY id")]


def approved_stamp(db) -> tuple:
    """Changes whenever the approved set may have changed (cheap: checked before searches)."""
    return tuple(db.execute("SELECT COUNT(*), MAX(version), MAX(decided_at), SUM(id) FROM synonyms "
                            "WHERE state = 'approved'").fetchone())
