"""The package as a user gets it: built into an sdist and a wheel, installed into a fresh venv, run."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo(tmp_path: Path) -> None:
    built = run(sys.executable, "-m", "build", "--outdir", tmp_path / "dist", ROOT)
    assert built.returncode == 0, built.stderr[-3000:]
    wheels = list((tmp_path / "dist").glob("jobsync-*.whl"))
    sdists = list((tmp_path / "dist").glob("jobsync-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    for inside in ("jobsync/py.typed", "jobsync/http/server.py"):
        assert inside in names
    assert any(name.endswith("licenses/LICENSE") for name in names)
    assert not any("tests/" in name or "__pycache__" in name for name in names)
    with tarfile.open(sdists[0]) as sdist:
        assert any(member.name.endswith("/LICENSE") for member in sdist.getmembers())

    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    installed = run(venv / "bin" / "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheels[0])
    assert installed.returncode == 0, installed.stderr[-3000:]

    version = run(venv / "bin" / "python", "-c", "import jobsync; print(jobsync.__version__)")
    shown = run(venv / "bin" / "jobsync", "--version")
    assert version.stdout.strip() and version.stdout.strip() in shown.stdout

    demo = run(
        venv / "bin" / "jobsync", "--actor", "newcomer", "demo", "--dir", tmp_path / "demo", cwd=tmp_path
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "Traceback" not in demo.stdout + demo.stderr

    # The default install is SQLite only; a PostgreSQL store says which extra to install.
    store = "postgresql://jobsync@127.0.0.1:1/jobsync"
    refused = run(venv / "bin" / "jobsync", "--store", store, "jobs", "list")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: a postgresql:// store needs the PostgreSQL driver: pip install 'jobsync[postgres]'"
    ]
