"""The ranker on a realistic index: hundreds of third-party articles in several Whoosh segments.

Every earlier test index was one segment, which hid a defect: a term present in two segments kept
only the last segment's postings. Here a full build of the dev set's NocoBase corpus (392 articles,
two writer processes → two segments) is then changed incrementally (articles added, changed and
deleted → more segments), and the ranker must give every document exactly Whoosh's own BM25F score.
"""

from __future__ import annotations

import shutil
import stat

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh import scoring

from devset import corpus_docs, load_items, require_dev_set
from indexer.analysis import normalize
from indexer.articles import load_articles
from indexer.build import build_full, current_index_dir, read_pointer, update_incremental
from indexer.query import QueryTerms, open_index
from indexer.snapshot import Snapshot

pytestmark = pytest.mark.slow


def _writable_copy(src, dst):
    shutil.copytree(src, dst)
    for path in dst.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return dst


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """NocoBase docs built in full, then three incremental updates: (docs, data, queries)."""
    require_dev_set()
    root = tmp_path_factory.mktemp("segments")
    docs = _writable_copy(corpus_docs("nocobase-zh"), root / "docs")
    data = root / "data"
    build_full(docs, data)
    files = sorted(docs.rglob("*.md"))
    # 1: change 25 articles; 2: add 40 English articles from another corpus; 3: delete 15, change 5 more.
    for path in files[::16][:25]:
        path.write_text(path.read_text(encoding="utf-8") + "\n\n补充说明：权限 工作流 审批 数据表 导入。\n", encoding="utf-8")
    update_incremental(docs, data)
    extra = sorted(corpus_docs("plane-en").rglob("*.md"))[:40]
    for i, path in enumerate(extra):
        (docs / "extra").mkdir(exist_ok=True)
        (docs / "extra" / f"plane-{i}.md").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    update_incremental(docs, data)
    for path in files[7::25][:15]:
        path.unlink()
    for path in files[3::40][:5]:
        path.write_text(path.read_text(encoding="utf-8") + "\n\nworkflow approval permission table\n", encoding="utf-8")
    update_incremental(docs, data)
    queries = [item["q"] for name in ("nocobase-zh", "plane-en") for item in load_items(name)]
    queries += [a.title for a in load_articles(docs)][::3]
    return docs, data, queries


def test_the_index_really_has_several_segments_and_deletions(corpus):
    _, data, _ = corpus
    ix = whoosh_index.open_dir(str(current_index_dir(data)))
    with ix.reader() as reader:
        leaves = reader.leaf_readers()
        assert len(leaves) >= 2, "the test must exercise a multi-segment index"
        assert reader.doc_count() > 350


def test_ranker_scores_equal_whoosh_bm25f_for_every_document(corpus):
    """For a few hundred queries, every document's score equals Whoosh's own BM25F score."""
    _, data, queries = corpus
    assert len(queries) > 250
    snap = Snapshot(data, read_pointer(data))
    ix = whoosh_index.open_dir(str(current_index_dir(data)))
    checked = 0
    with ix.searcher(weighting=scoring.BM25F()) as searcher:
        for text in queries:
            terms = QueryTerms(normalize(text))
            if terms.empty:
                continue
            clauses = terms.clauses()
            ours = snap.ranker.scores(clauses)
            hits = searcher.search(Q.Or([Q.Term(f, t, boost=b) for f, t, b in clauses]), limit=None)
            theirs = {hit.docnum: hit.score for hit in hits}
            assert set(np.flatnonzero(ours > 0)) == set(theirs), text
            docnums = sorted(theirs)
            np.testing.assert_allclose(ours[docnums], [theirs[d] for d in docnums], rtol=2e-4, err_msg=text)
            checked += 1
    assert checked > 250


def test_two_full_builds_of_the_same_docs_rank_identically(corpus, tmp_path):
    docs, _, queries = corpus
    build_full(docs, tmp_path / "a")
    build_full(docs, tmp_path / "b")
    first = open_index(tmp_path / "a", cache_size=0)
    second = open_index(tmp_path / "b", cache_size=0)
    for text in queries[:150]:
        a = [(r["slug"], r["score"]) for r in first.search(text, limit=10)["results"]]
        b = [(r["slug"], r["score"]) for r in second.search(text, limit=10)["results"]]
        assert a == b, text
