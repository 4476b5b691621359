"""Passage vectors on disk, keyed by article content hash: the only owner of ``<data>/vectors.db``.

Embedding is the slow part of indexing (tens of milliseconds per passage), so vectors are cached by
what they were computed from: the model, the passage splitter's version and the article's content
hash. ``kb index``, a published practice or an edited article embed only the articles whose text
changed; a full rebuild of unchanged docs reuses every vector. Several processes may fill the cache
at once (``kb build`` and a running ``kb serve``): SQLite in WAL mode serializes them and a vector
written twice is simply the same vector.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np

FILE = "vectors.db"
# Bump when indexer/passages.py cuts articles differently or what is embedded changes: old vectors
# stop matching. 2: the first row of an article's matrix is its title alone.
PASSAGE_VERSION = 2


def vector_key(model: str, content_hash: str) -> str:
    return f"{model}:p{PASSAGE_VERSION}:{content_hash}"


class VectorStore:
    """Vectors of articles (float16 on disk), by (model, content hash): row 0 the title, then each passage."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, rows INTEGER, dim INTEGER, data BLOB)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        """{key: float32 matrix (passages x dim)} for the keys that are stored."""
        found = {}
        conn = self._conn()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, rows, dim, data in conn.execute(f"SELECT key, rows, dim, data FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(data, dtype=np.float16).reshape(rows, dim).astype(np.float32)
        return found

    def missing(self, keys: list[str]) -> list[str]:
        """The keys that have no vectors yet, in the order given."""
        have = set()
        conn = self._conn()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            have.update(k for (k,) in conn.execute(f"SELECT key FROM vectors WHERE key IN ({marks})", chunk))
        return [k for k in keys if k not in have]

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store matrices (one transaction)."""
        conn = self._conn()
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO vectors (key, rows, dim, data) VALUES (?, ?, ?, ?)",
                [(k, m.shape[0], m.shape[1], np.ascontiguousarray(m, dtype=np.float16).tobytes()) for k, m in items.items()],
            )

    def count(self) -> int:
        return self._conn().execute("SELECT count(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
