"""``bench/chaos.py`` still runs: a few SIGKILLs of the real CLI on a tiny repository, every round clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class TestChaosBench:
    def test_a_few_kills_on_sqlite_are_all_clean(self, tmp_path: Path) -> None:
        """Three kills on SQLite land, each followed by passing checks, and the report says so."""
        options = ["--kills", "3", "--modules", "20", "--store", "sqlite", "--seed", "test", "--json"]
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "chaos.py"), *options, "--workdir", str(tmp_path / "work")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        (run,) = json.loads(done.stdout)["stores"]
        assert (run["kills"], run["clean"], run["unclean"]) == (3, 3, [])
