"""Packaging promises: the pinned Whoosh fork imports cleanly even with warnings as errors."""

import subprocess
import sys

from conftest import ROOT


def test_kb_imports_under_warnings_as_errors():
    # The original whoosh 2.7.4 fails here (invalid escape sequences); whoosh-reloaded must not.
    code = "import whoosh.index, whoosh.qparser, indexer.query, indexer.build, kbserver, kbserver.cli"
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_only_one_whoosh_distribution_is_installed():
    from importlib.metadata import PackageNotFoundError, version

    installed = []
    for name in ("whoosh", "whoosh3", "whoosh-reloaded"):
        try:
            installed.append((name, version(name)))
        except PackageNotFoundError:
            pass
    assert installed == [("whoosh-reloaded", "2.7.5")]
