"""The self-service rate and the other headline figures on `kb simulate`'s month, through the real CLI.

Copies the starter docs to a temporary folder, runs `kb simulate --days 61` (traffic ending now), then
`kb report --days 30` (the 30 complete days before today, in the company's time zone) and its JSON.

    python tests/bench/self_service.py

Writes tests/bench/results/self_service.txt.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def kb(*args: str, env: dict) -> str:
    done = subprocess.run([sys.executable, "-m", "kbserver.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="kb-self-service-"))
    try:
        shutil.copytree(ROOT / "docs", work / "docs")
        env = {**os.environ, "KB_DOCS": str(work / "docs"), "KB_DATA": str(work / "data"),
               "KB_TIME_ZONE": "Asia/Shanghai"}
        kb("index", env=env)
        kb("simulate", "--days", "61", "--seed", "7", env=env)
        text = kb("report", "--days", "30", env=env)
        data = json.loads(kb("report", "--days", "30", "--json", env=env))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    s = data["summary"]
    lines = ["kb simulate --days 61 --seed 7 (starter docs), then kb report --days 30", text.rstrip(),
             f"self_service_rate={s['self_service_rate']} sessions={s['sessions']} "
             f"self_served={s['self_served_sessions']}",
             "top failing searches: " + "; ".join(f"{r['query']} ({r['failed']})" for r in data["failing_searches"][:5]),
             "modules: " + "; ".join(f"{r['module'] or '-'} {r['searches']}" for r in data["modules"][:6])]
    out = "\n".join(lines) + "\n"
    print(out, end="")
    results = ROOT / "tests" / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "self_service.txt").write_text(out, encoding="utf-8")


if __name__ == "__main__":
    main()
