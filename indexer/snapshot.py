"""One index version, opened once: the Whoosh reader and everything derived from it.

A search takes the current snapshot at its start and uses only that object to the end, so the
ranking columns, the stored fields it returns and the spelling vocabulary always come from the same
Whoosh reader, even while `kb index` or `kb build` swaps in a new version. A replaced snapshot is
simply dropped: requests still holding it finish on it (its files stay readable while open).
"""

from __future__ import annotations

import threading
from pathlib import Path

from whoosh import index as whoosh_index

from .analysis import has_cjk, mixed_analyzer, synonym_vocabulary
from .build import index_dir_for, read_pointer
from .dense import DenseIndex
from .errors import IndexMissing
from .i18n import N_
from .ranking import Ranker
from .spelling import Speller
from .vectors import VectorStore


class Snapshot:
    """Reader, ranker and spellers of one index version; safe to share between threads."""

    def __init__(self, data_dir: Path, pointer: dict, semantic=None, store: VectorStore | None = None):
        path = index_dir_for(data_dir, pointer)
        self.version = pointer["version"]
        self._ix = whoosh_index.open_dir(str(path))
        self._searcher = self._ix.searcher()
        # Whoosh readers seek in shared files: one thread at a time (each use is microseconds).
        self._lock = threading.Lock()
        reader = self._searcher.reader()
        self.ranker = Ranker(reader)
        self.english, self.chinese = _spellers(reader)
        encoder = semantic.get() if semantic is not None else None
        # Passage vectors of this version (None: lexical only, the model is off or failed to load).
        self.dense = DenseIndex(reader, encoder.name, store) if encoder is not None and store is not None else None

    def stored(self, docnum: int) -> dict:
        """Stored fields of a document number from this snapshot's ranker."""
        with self._lock:
            return self._searcher.stored_fields(docnum)

    def document(self, **terms) -> dict | None:
        """Stored fields of the document matching terms (e.g. slug=...), or None."""
        with self._lock:
            return self._searcher.document(**terms)

    def documents(self, **terms) -> list[dict]:
        """Stored fields of every document matching terms (e.g. module=...)."""
        with self._lock:
            return list(self._searcher.documents(**terms))

    def field_values(self, field: str) -> list[str]:
        """The distinct indexed values of an ID field (e.g. every module name)."""
        with self._lock:
            return [v.decode("utf-8") if isinstance(v, bytes) else v
                    for v in self._searcher.reader().field_terms(field)]

    def docnum(self, slug: str) -> int | None:
        """The document number of an article in this snapshot, or None."""
        with self._lock:
            return self._searcher.document_number(slug=slug)

    def docs_for(self, query) -> set[int]:
        """Document numbers matching a Whoosh query (used for filters)."""
        with self._lock:
            return set(self._searcher.docs_for_query(query))

    def doc_count(self) -> int:
        with self._lock:
            return self._searcher.doc_count()

    def known(self, word: str) -> bool:
        """True when the word occurs in a title or body, or is a word of the synonym list."""
        if word.lower() in synonym_vocabulary():
            return True
        with self._lock:
            reader = self._searcher.reader()
            return any(reader.doc_frequency(field, t.text)
                       for t in mixed_analyzer()(word, mode="query") for field in ("title", "body"))

    def doc_frequency(self, word: str) -> int:
        """Articles whose title, summary or body contain the word (the largest of the three counts)."""
        terms = [t.text for t in mixed_analyzer()(word, mode="query")]
        if not terms:
            return 0
        with self._lock:
            reader = self._searcher.reader()
            return max(reader.doc_frequency(field, terms[0]) for field in ("title", "summary", "body"))

    def speller(self, word: str) -> Speller:
        return self.chinese if has_cjk(word) else self.english


def _spellers(reader) -> tuple[Speller, Speller]:
    """Spelling vocabularies: English words of the articles plus the synonym list's English words
    (what customers say even where no article does); Chinese words of the titles."""
    english = {_text(w): ti.doc_frequency() for w, ti in reader.iter_field("words")}
    for word in synonym_vocabulary():
        english.setdefault(word, 1)
    chinese = {_text(w): ti.doc_frequency() for w, ti in reader.iter_field("title")
               if has_cjk(_text(w)) and len(_text(w)) >= 2}
    return Speller(english), Speller(chinese)


def _text(term) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else term


class Snapshots:
    """Hands out the snapshot of the version the index pointer names now."""

    def __init__(self, data_dir: Path, semantic=None):
        self.data_dir = Path(data_dir)
        self.semantic = semantic
        self._store: VectorStore | None = None
        self._current: Snapshot | None = None
        self._lock = threading.Lock()

    def pointer(self) -> dict:
        pointer = read_pointer(self.data_dir)
        if not pointer:
            raise IndexMissing(N_("%(data)s 中还没有搜索索引：请先运行 `kb build`"), data=str(self.data_dir))
        return pointer

    def current(self) -> Snapshot:
        """The snapshot for the pointer as it is now (opening it on first use)."""
        pointer = self.pointer()
        snap = self._current
        if snap is not None and snap.version == pointer["version"]:
            return snap
        with self._lock:
            pointer = self.pointer()  # it may have moved again while we waited
            if self._current is None or self._current.version != pointer["version"]:
                if self._store is None and self.semantic is not None and self.semantic.get() is not None:
                    self._store = VectorStore(self.data_dir)
                self._current = Snapshot(self.data_dir, pointer, self.semantic, self._store)
            return self._current
