"""The config file: every refusal is one line naming the key; good files become frozen settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobsync.config import DEFAULT_CONFIG, Config, config_path, effective, load_config, parse_interval
from jobsync.domain.errors import ConfigError
from jobsync.spec import DEFAULT_INTERVAL


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> str:
    """The message ``load_config`` refuses ``text`` with; it must be one line."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message, message
    return message


GIT = '[[sources]]\nname = "netops"\nurl = "https://example.com/netops.git"\n'


class TestRefusals:
    def test_unknown_top_level_key(self, tmp_path: Path) -> None:
        """A misspelt top-level key is refused by name, with the known keys listed."""
        message = refusal(tmp_path, 'stroe = "sqlite:///x.db"\n')
        assert message.startswith("stroe: unknown key")
        assert "store" in message

    def test_unknown_source_key(self, tmp_path: Path) -> None:
        """An unknown key inside a source names the source's index."""
        assert refusal(tmp_path, GIT + 'brnach = "main"\n').startswith("sources[0].brnach: unknown key")

    @pytest.mark.parametrize(
        ("text", "start"),
        [
            ("store = 5\n", "store: must be a URL string or a [store] table, not int"),
            ("state_dir = ['/a']\n", "state_dir: must be a string, not list"),
            ('sources = "netops"\n', "sources: must be a list"),
            ("sources = [1]\n", "sources[0]: must be a table"),
            ("[[sources]]\nname = 7\nurl = 'x'\n", "sources[0].name: must be a string, not int"),
            (GIT + "branch = 1\n", "sources[0].branch: must be a string, not int"),
            (GIT + 'include = "*.py"\n', "sources[0].include: must be a list of glob strings"),
            (GIT + "exclude = [1]\n", "sources[0].exclude: must be a list of glob strings"),
        ],
    )
    def test_wrong_types(self, tmp_path: Path, text: str, start: str) -> None:
        """A value of the wrong type is refused with its key's path and the type it had."""
        assert refusal(tmp_path, text).startswith(start)

    def test_duplicate_source_names(self, tmp_path: Path) -> None:
        """Two sources with one name are refused at the second one."""
        message = refusal(tmp_path, GIT + GIT.replace("netops.git", "other.git"))
        assert message == "sources[1].name: source 'netops' is configured twice"

    @pytest.mark.parametrize("interval", ['"soon"', "0", "-5", '"5x"', "true", '"0s"', '"-1m"', "0.5"])
    def test_bad_intervals(self, tmp_path: Path, interval: str) -> None:
        """Intervals that are not a positive duration of at least a second are refused."""
        assert refusal(tmp_path, GIT + f"interval = {interval}\n").startswith("sources[0].interval: ")

    @pytest.mark.parametrize(("kind", "key"), [("git", "url"), ("local", "path"), ("app", "distribution")])
    def test_missing_location_per_kind(self, tmp_path: Path, kind: str, key: str) -> None:
        """Each kind of source needs its own location key, and the message names it."""
        message = refusal(tmp_path, f'[[sources]]\nname = "s"\nkind = "{kind}"\n')
        assert message == f"sources[0].{key}: a {kind} source needs '{key}'"

    @pytest.mark.parametrize(
        ("kind", "location", "key", "value"),
        [
            ("local", 'path = "/srv/jobs"', "branch", '"main"'),
            ("local", 'path = "/srv/jobs"', "interval", '"5m"'),
            ("app", 'distribution = "click"', "url", '"https://x"'),
            ("git", 'url = "https://x"', "path", '"/srv"'),
            ("app", 'distribution = "click"', "credentials_env", '"TOKEN"'),
        ],
    )
    def test_key_not_allowed_for_kind(
        self, tmp_path: Path, kind: str, location: str, key: str, value: str
    ) -> None:
        """A key that only another kind takes is refused, not silently ignored."""
        text = f'[[sources]]\nname = "s"\nkind = "{kind}"\n{location}\n{key} = {value}\n'
        assert refusal(tmp_path, text).startswith(f"sources[0].{key}: only ")

    def test_unknown_kind(self, tmp_path: Path) -> None:
        """A kind other than git, local or app is refused."""
        message = refusal(tmp_path, GIT + 'kind = "svn"\n')
        assert message == "sources[0].kind: must be 'git', 'local' or 'app', not 'svn'"

    def test_name_is_required_and_has_no_colon(self, tmp_path: Path) -> None:
        """A source without a name, or with ':' in it (refs use it), is refused."""
        assert refusal(tmp_path, '[[sources]]\nurl = "https://x"\n').startswith("sources[0].name: ")
        assert refusal(tmp_path, '[[sources]]\nname = "a:b"\nurl = "https://x"\n').startswith(
            "sources[0].name: "
        )

    def test_name_holds_no_control_character(self, tmp_path: Path) -> None:
        """A source name is chosen by an operator: the config refuses controls in it, as ``resync --name`` does."""
        message = refusal(tmp_path, '[[sources]]\nname = "net\\u001bops"\nurl = "https://x"\n')
        assert message == "sources[0].name: may not hold the control character \\x1b"

    def test_credentials_env_and_file_together(self, tmp_path: Path) -> None:
        """credentials_env and credentials_file exclude each other."""
        text = GIT + 'credentials_env = "TOKEN"\ncredentials_file = "/run/credentials/token"\n'
        assert refusal(tmp_path, text).startswith("sources[0].credentials_file: ")

    def test_bad_log_format(self, tmp_path: Path) -> None:
        """log_format is json or console."""
        assert (
            refusal(tmp_path, 'log_format = "xml"\n') == "log_format: must be 'json' or 'console', not 'xml'"
        )

    def test_invalid_toml(self, tmp_path: Path) -> None:
        """A file that is not TOML says so and names the file."""
        message = refusal(tmp_path, "store = \n")
        assert "is not valid TOML" in message
        assert str(tmp_path / "config.toml") in message

    def test_missing_file(self, tmp_path: Path) -> None:
        """A named config file that does not exist is an error, not an empty config."""
        with pytest.raises(ConfigError, match="does not exist"):
            load_config(tmp_path / "nope.toml")

    def test_not_utf8(self, tmp_path: Path) -> None:
        """A file that is not UTF-8 text is refused in one line."""
        path = tmp_path / "config.toml"
        path.write_bytes(b'store = "\xff"\n')
        with pytest.raises(ConfigError, match="not UTF-8"):
            load_config(path)


class TestGoodConfigs:
    @pytest.mark.parametrize(
        ("written", "seconds"),
        [('"30s"', 30.0), ('"5m"', 300.0), ('"1h"', 3600.0), ("90", 90.0), ('"1.5"', 1.5), ("2.5", 2.5)],
    )
    def test_intervals_become_seconds(self, tmp_path: Path, written: str, seconds: float) -> None:
        """Intervals in seconds or with an s/m/h unit are read as seconds."""
        (spec,) = load_config(write(tmp_path, GIT + f"interval = {written}\n")).sources
        assert spec.interval == seconds

    def test_heartbeat_timeout_defaults_to_ten_minutes_and_reads_units(self, tmp_path: Path) -> None:
        """``heartbeat_timeout`` is 10 minutes unless set; it takes the same units as intervals."""
        assert load_config(write(tmp_path, "")).heartbeat_timeout == 600.0
        assert load_config(write(tmp_path, 'heartbeat_timeout = "2m"\n')).heartbeat_timeout == 120.0
        assert "heartbeat_timeout" in refusal(tmp_path, 'heartbeat_timeout = "soon"\n')

    def test_full_config(self, tmp_path: Path) -> None:
        """Every key of every kind lands in the settings, with defaults where a key is absent."""
        folder = tmp_path / "jobs"
        text = f"""
store = "sqlite:///{tmp_path}/j.db"
state_dir = "{tmp_path}/state"
log_format = "console"

[[sources]]
name = "netops"
url = "https://example.com/netops.git"
branch = "prod"
interval = "5m"
include = ["jobs/**"]
exclude = ["jobs/old/*"]
credentials_env = "NETOPS_TOKEN"

[[sources]]
name = "lab"
kind = "local"
path = "{folder}/../jobs"

[[sources]]
name = "clickapp"
kind = "app"
distribution = "click"
"""
        path = write(tmp_path, text)
        config = load_config(path)
        assert (config.store, config.state_dir, config.log_format, config.path) == (
            f"sqlite:///{tmp_path}/j.db",
            tmp_path / "state",
            "console",
            path,
        )
        netops, lab, app = config.sources
        assert (netops.kind, netops.url, netops.branch, netops.interval) == (
            "git",
            "https://example.com/netops.git",
            "prod",
            300.0,
        )
        assert (netops.include, netops.exclude, netops.credentials_env) == (
            ("jobs/**",),
            ("jobs/old/*",),
            "NETOPS_TOKEN",
        )
        assert (lab.kind, lab.url) == ("local", str(folder.resolve()))  # made absolute
        assert (app.kind, app.url, app.branch) == ("app", "click", None)

    def test_defaults(self, tmp_path: Path) -> None:
        """A source without kind is git, polled every 5 minutes, with no filters; no file means every default."""
        (spec,) = load_config(write(tmp_path, GIT)).sources
        assert (spec.kind, spec.interval, spec.include, spec.exclude) == ("git", DEFAULT_INTERVAL, (), ())
        assert load_config(None) == Config()

    def test_parse_interval_names_the_key(self) -> None:
        """parse_interval puts the caller's key path in front of its message."""
        assert parse_interval("1h", "x") == 3600.0
        with pytest.raises(ConfigError, match=r"^sources\[3\]\.interval: "):
            parse_interval("soon", "sources[3].interval")


class TestEffective:
    def test_secrets_are_redacted(self, tmp_path: Path) -> None:
        """Passwords in git URLs and the store URL never reach the effective config."""
        text = f"""
store = "postgresql://admin:hunter2@db.example.com/jobsync"
state_dir = "{tmp_path}/state"

[[sources]]
name = "netops"
url = "https://deploy:s3cret-token@git.example.com/netops.git"
credentials_file = "/run/credentials/jobsync/netops"
"""
        data = effective(load_config(write(tmp_path, text)))
        dumped = json.dumps(data)
        assert "hunter2" not in dumped and "s3cret-token" not in dumped
        assert data["store"] == "postgresql://db.example.com/jobsync"
        assert data["sources"][0]["url"] == "https://git.example.com/netops.git"
        assert data["sources"][0]["credentials_file"] == "/run/credentials/jobsync/netops"

    def test_defaults_filled_in(self, tmp_path: Path) -> None:
        """The effective config names the default store under the state folder."""
        data = effective(load_config(write(tmp_path, f'state_dir = "{tmp_path}/state"\n')))
        assert data["store"] == f"sqlite:///{tmp_path}/state/jobsync.db"
        assert data["sources"] == []


class TestLookup:
    def test_explicit_path_wins(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """--config is used even when $JOBSYNC_CONFIG names another file."""
        monkeypatch.setenv("JOBSYNC_CONFIG", str(tmp_path / "env.toml"))
        assert config_path(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"

    def test_environment_next(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without --config, $JOBSYNC_CONFIG names the file."""
        monkeypatch.setenv("JOBSYNC_CONFIG", str(tmp_path / "env.toml"))
        assert config_path(None) == tmp_path / "env.toml"

    def test_none_without_default_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without --config or $JOBSYNC_CONFIG (empty counts as unset) and no /etc file, there is none."""
        if DEFAULT_CONFIG.exists():
            pytest.skip(f"{DEFAULT_CONFIG} exists on this machine")
        monkeypatch.setenv("JOBSYNC_CONFIG", "")
        assert config_path(None) is None
        monkeypatch.delenv("JOBSYNC_CONFIG")
        assert config_path(None) is None


def config_check(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOBSYNC_CONFIG", "JOBSYNC_DEBUG")}
    return subprocess.run(
        [sys.executable, "-m", "jobsync", "config", "check", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


class TestConfigCheckCommand:
    def test_good_file(self, tmp_path: Path) -> None:
        """``config check FILE`` prints "config ok" and the effective settings, secrets redacted."""
        path = write(
            tmp_path,
            f'state_dir = "{tmp_path}/state"\n[[sources]]\nname = "netops"\n'
            'url = "https://deploy:s3cret@git.example.com/netops.git"\n',
        )
        done = config_check(str(path))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"config ok: {path}  (--config)\n")
        assert "https://git.example.com/netops.git" in done.stdout
        assert "s3cret" not in done.stdout + done.stderr

    def test_bad_file(self, tmp_path: Path) -> None:
        """A bad value exits 1 with one ``error:`` line naming the key."""
        done = config_check(str(write(tmp_path, GIT + 'interval = "soon"\n')))
        assert done.returncode == 1
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: sources[0].interval: "), done.stderr


class TestStoreTable:
    def test_store_table_with_url_is_accepted(self, tmp_path: Path) -> None:
        """``[store] url = ...`` means the same as ``store = ...``."""
        path = tmp_path / "c.toml"
        path.write_text('[store]\nurl = "postgresql://u@h/db"\n', encoding="utf-8")
        assert load_config(path).store == "postgresql://u@h/db"

    def test_store_table_with_unknown_key_is_refused(self, tmp_path: Path) -> None:
        """A typo in the ``[store]`` table is named with its path."""
        path = tmp_path / "c.toml"
        path.write_text('[store]\nuri = "x"\n', encoding="utf-8")
        with pytest.raises(ConfigError, match=r"^store\.uri: unknown key"):
            load_config(path)


class TestMaxUninstall:
    @pytest.mark.parametrize(("written", "value"), [("5", 5), ("0", 0), ('"20%"', "20%"), ('"100%"', "100%")])
    def test_count_or_percentage_is_kept(self, tmp_path: Path, written: str, value: int | str) -> None:
        """``max_uninstall`` is a count or a percentage string; it reaches the spec and the effective config."""
        config = load_config(write(tmp_path, GIT + f"max_uninstall = {written}\n"))
        (spec,) = config.sources
        assert spec.max_uninstall == value
        assert effective(config)["sources"][0]["max_uninstall"] == value

    def test_absent_means_the_default_rule(self, tmp_path: Path) -> None:
        """Without the key a source has no limit of its own (the default rule applies)."""
        (spec,) = load_config(write(tmp_path, GIT)).sources
        assert spec.max_uninstall is None
        assert "max_uninstall" not in effective(load_config(write(tmp_path, GIT)))["sources"][0]

    @pytest.mark.parametrize("written", ["-1", "true", "1.5", '"20"', '"120%"', '"lots"', "[5]"])
    def test_bad_values_are_refused(self, tmp_path: Path, written: str) -> None:
        """Anything but a count or a percentage from 0 to 100 is refused in one line naming the key."""
        message = refusal(tmp_path, GIT + f"max_uninstall = {written}\n")
        assert message.startswith("sources[0].max_uninstall: ")
        assert "20%" in message

    def test_local_sources_take_it_too(self, tmp_path: Path) -> None:
        """An emptied folder or an unmounted share is what the guard is for: local sources take the key."""
        text = f'[[sources]]\nname = "lab"\nkind = "local"\npath = "{tmp_path}"\nmax_uninstall = "50%"\n'
        (spec,) = load_config(write(tmp_path, text)).sources
        assert spec.max_uninstall == "50%"


class TestHttp:
    """``[http]``: off unless the table is there; loopback unless told; refusals name the key."""

    def test_absent_means_no_server(self, tmp_path: Path) -> None:
        assert load_config(write(tmp_path, GIT)).http is None

    def test_an_empty_table_listens_on_loopback(self, tmp_path: Path) -> None:
        http = load_config(write(tmp_path, "[http]\n")).http
        assert http is not None
        assert (http.host, http.port, http.tokens_file) == ("127.0.0.1", 8642, None)

    @pytest.mark.parametrize(
        ("listen", "host", "port"),
        [
            ("0.0.0.0:80", "0.0.0.0", 80),
            (":9000", "127.0.0.1", 9000),
            ("[::1]:8642", "::1", 8642),
            ("jobsync.internal:8642", "jobsync.internal", 8642),
            ("127.0.0.1:0", "127.0.0.1", 0),
        ],
    )
    def test_listen_forms(self, tmp_path: Path, listen: str, host: str, port: int) -> None:
        config = load_config(write(tmp_path, f'[http]\nlisten = "{listen}"\ntokens_file = "/etc/t"\n'))
        assert config.http is not None
        assert (config.http.host, config.http.port, config.http.tokens_file) == (host, port, Path("/etc/t"))

    @pytest.mark.parametrize("listen", ["8642", "localhost", "127.0.0.1:99999", "127.0.0.1:port", "::1:80"])
    def test_bad_listen_is_refused(self, tmp_path: Path, listen: str) -> None:
        assert refusal(tmp_path, f'[http]\nlisten = "{listen}"\n').startswith(
            "http.listen: must be HOST:PORT"
        )

    def test_unknown_key_and_wrong_type(self, tmp_path: Path) -> None:
        assert refusal(tmp_path, "[http]\nport = 1\n").startswith("http.port: unknown key")
        assert refusal(tmp_path, 'http = "127.0.0.1:1"\n') == "http: must be an [http] table"

    def test_webhook_secret_keys(self, tmp_path: Path) -> None:
        config = load_config(write(tmp_path, GIT + 'webhook_secret_env = "HOOK_SECRET"\n'))
        assert config.sources[0].webhook_secret_env == "HOOK_SECRET"
        both = GIT + 'webhook_secret_env = "A"\nwebhook_secret_file = "b"\n'
        assert "not both" in refusal(tmp_path, both)
        local = '[[sources]]\nname = "l"\nkind = "local"\npath = "/tmp"\nwebhook_secret_env = "A"\n'
        assert refusal(tmp_path, local).startswith("sources[0].webhook_secret_env: only git sources")

    def test_config_check_shows_where_it_listens(self, tmp_path: Path) -> None:
        path = write(tmp_path, f'state_dir = "{tmp_path}/state"\n[http]\nlisten = ":9000"\n' + GIT)
        done = config_check(str(path))
        assert done.returncode == 0, done.stderr
        assert "http        listen 127.0.0.1:9000, tokens (none:" in done.stdout
        assert json.loads(config_check(str(path), "--json").stdout)["http"] == {
            "listen": "127.0.0.1:9000",
            "tokens_file": None,
        }
