"""Where the third-party relevance dev set lives, read at test and bench time (never copied in).

It sits in the shared folder beside the repository (``../shared/datasets/relevance``); KB_DEV_SET
points elsewhere. Tests that need it skip on a laptop without it, and fail in CI (``CI=true``),
where it is always laid beside the clone, so a missing set can never pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ("nocobase-zh", "plane-en", "nocobase-xl")


def dev_set_dir() -> Path:
    """The folder holding the dev set's corpora (it may not exist)."""
    return Path(os.environ.get("KB_DEV_SET") or ROOT.parent / "shared" / "datasets" / "relevance")


def require_dev_set() -> Path:
    """The dev set folder, or skip (fail under CI) when it is not there."""
    path = dev_set_dir()
    if not (path / "nocobase-zh" / "docs").is_dir():
        message = f"the relevance dev set is not at {path}: set KB_DEV_SET"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def corpus_docs(name: str) -> Path:
    return dev_set_dir() / name / "docs"


def load_items(name: str, kind: str = "queries") -> list[dict]:
    """The queries (or tickets) of one corpus: dicts with q (or id/subject/body), style, relevant."""
    path = dev_set_dir() / name / f"{kind}.yml"
    if not path.exists():
        return []
    return yaml.safe_load(path.read_text(encoding="utf-8"))
