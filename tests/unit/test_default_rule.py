"""One rule for where the catalog is (docs/design.md §6 Config), the same for the CLI, the library and the daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobsync import Catalog
from jobsync.defaults import state_dir_rule


@pytest.fixture
def system(tmp_path: Path) -> Path:
    """A stand-in for /var/lib/jobsync that this test user may write."""
    folder = tmp_path / "var-lib-jobsync"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    ("who", "environ", "euid", "expected", "why"),
    [
        ("systemd", {"STATE_DIRECTORY": "/run/state/jobsync:/other"}, 1000, "/run/state/jobsync", "systemd"),
        ("root", {"HOME": "/root"}, 0, "SYSTEM", "root"),
        ("the service user", {"HOME": "SYSTEM"}, 990, "SYSTEM", "may write it"),
        ("a normal user", {"HOME": "/home/ann"}, 1000, "/home/ann/.local/state/jobsync", "own catalog"),
        ("an XDG user", {"HOME": "/home/ann", "XDG_STATE_HOME": "/x"}, 1000, "/x/jobsync", "XDG_STATE_HOME"),
    ],
)
def test_the_state_folder_rule(
    system: Path, who: str, environ: dict[str, str], euid: int, expected: str, why: str
) -> None:
    if who in ("a normal user", "an XDG user"):
        system.rmdir()  # no service on this host (a user's own machine)
    env = {key: value.replace("SYSTEM", str(system)) for key, value in environ.items()}
    folder, reason = state_dir_rule(env, system=system, euid=euid)
    assert str(folder) == expected.replace("SYSTEM", str(system))
    assert why in reason


def test_a_missing_service_folder_leaves_a_user_their_own(tmp_path: Path) -> None:
    folder, reason = state_dir_rule({"HOME": "/home/ann"}, system=tmp_path / "absent", euid=1000)
    assert folder == Path("/home/ann/.local/state/jobsync")
    assert "own catalog" in reason


def test_the_library_and_the_cli_open_the_catalog_jobsync_config_names(tmp_path: Path) -> None:
    """``Catalog.open()`` with nothing, ``Catalog.from_config()`` and the CLI find the same catalog."""
    state = tmp_path / "state"
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{state}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("JOBSYNC_STORE", "JOBSYNC_ACTOR")}
    env["JOBSYNC_CONFIG"] = str(config)
    check = subprocess.run(
        [sys.executable, "-m", "jobsync", "config", "check", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    data = json.loads(check.stdout)
    assert data["store"] == f"sqlite:///{state}/jobsync.db"
    assert data["config_rule"] == "$JOBSYNC_CONFIG"
    assert data["catalog_rule"] == f"jobsync.db in the state folder: state_dir in {config}"
    old = os.environ.get("JOBSYNC_CONFIG")
    os.environ["JOBSYNC_CONFIG"] = str(config)
    try:
        with Catalog.open(actor="lib") as opened:
            assert opened.state_dir == state
        with Catalog.from_config(actor="lib") as opened:
            assert opened.store_label.endswith(f"{state}/jobsync.db")
    finally:
        if old is None:
            del os.environ["JOBSYNC_CONFIG"]
        else:
            os.environ["JOBSYNC_CONFIG"] = old


def test_environment_variables_stand_for_the_global_options(tmp_path: Path) -> None:
    """``$JOBSYNC_STORE`` and ``$JOBSYNC_ACTOR`` do what ``--store`` and ``--actor`` do."""
    store = f"sqlite:///{tmp_path}/elsewhere.db"
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    env = {**os.environ, "JOBSYNC_STORE": store, "JOBSYNC_ACTOR": "envy", "JOBSYNC_CONFIG": str(config)}
    check = subprocess.run(
        [sys.executable, "-m", "jobsync", "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert f"catalog     {store}  (--store (or $JOBSYNC_STORE))" in check.stdout
    folder = tmp_path / "jobs"
    (folder / "jobs").mkdir(parents=True)
    (folder / "jobs" / "ops.py").write_text(
        "from nautobot.apps.jobs import Job\n\n\nclass Ops(Job):\n    pass\n"
    )
    synced = subprocess.run(
        [sys.executable, "-m", "jobsync", "resync", str(folder), "--name", "ops"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert synced.returncode == 0, synced.stderr
    assert (tmp_path / "elsewhere.db").exists()
    with Catalog.open(store=store, state_dir=tmp_path / "state") as opened:
        assert opened.sources()[0]["last_synced_by"] == "envy"
