"""TOML configuration -> frozen settings; every refusal names the key's path."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobsync.adapters.store import default_store_url
from jobsync.defaults import state_dir_rule
from jobsync.domain.errors import ConfigError
from jobsync.domain.planning import max_uninstall_problem
from jobsync.spec import DEFAULT_INTERVAL, DEFAULT_TIMEOUT, SourceSpec, source_name_problem
from jobsync.urls import redact_url, url_transport

DEFAULT_CONFIG = Path("/etc/jobsync/config.toml")
#: Which key says where a source of each kind lives.
_LOCATION_KEY = {"git": "url", "local": "path", "app": "distribution"}
#: Keys that only make sense for some kinds of source.
_KIND_ONLY = {
    "url": ("git",),
    "path": ("local",),
    "distribution": ("app",),
    "branch": ("git",),
    "interval": ("git",),
    "credentials_env": ("git",),
    "credentials_file": ("git",),
    "tag": ("git",),
    "commit": ("git",),
    "auth": ("git",),
    "proxy": ("git",),
    "ca_bundle": ("git",),
    "timeout": ("git",),
    "ssh_key_file": ("git",),
    "known_hosts_file": ("git",),
    "webhook_secret_env": ("git",),
    "webhook_secret_file": ("git",),
}
#: Keys that only make sense for one transport of a git URL (``url_transport``).
_TRANSPORT_ONLY = {
    "credentials_env": "http",
    "credentials_file": "http",
    "auth": "http",
    "proxy": "http",
    "ca_bundle": "http",
    "ssh_key_file": "ssh",
    "known_hosts_file": "ssh",
}
_TRANSPORT_NAMES = {"http": "http(s)://", "ssh": "ssh:// and user@host:path"}
#: What a git source may follow; at most one of them (none: the remote's HEAD).
_REF_KEYS = ("branch", "tag", "commit")
_AUTH_KINDS = ("basic", "bearer")
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_TOP_KEYS = {"store", "state_dir", "log_format", "log_level", "heartbeat_timeout", "http", "sources"}
_HTTP_KEYS = {"listen", "tokens_file"}
#: Where ``[http]`` listens when the table gives no ``listen``: loopback only, never every interface by default.
DEFAULT_LISTEN = "127.0.0.1:8642"
#: The levels ``log_level`` (and ``jobsync daemon --log-level``) accept, least severe first.
LOG_LEVELS = ("debug", "info", "warning", "error")
#: A running run whose worker sent no heartbeat or log entry for this long is ended (docs/design.md §3 rule 12).
DEFAULT_HEARTBEAT_TIMEOUT = 600.0
_SOURCE_KEYS = {
    "name",
    "kind",
    "url",
    "path",
    "distribution",
    "branch",
    "interval",
    "include",
    "exclude",
    "credentials_env",
    "credentials_file",
    "max_uninstall",
    "webhook_secret_env",
    "webhook_secret_file",
    *(key for key in _KIND_ONLY if key not in ("url", "path", "distribution")),
}


@dataclass(frozen=True)
class HttpSettings:
    """``[http]``: where the daemon (or ``jobsync serve``) listens, and the file of API tokens."""

    host: str
    port: int
    tokens_file: Path | None = None

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Config:
    """The effective configuration; ``None`` means "use the default"."""

    store: str | None = None
    state_dir: Path | None = None
    log_format: str | None = None  # None: JSON under systemd or when piped, console on a TTY
    log_level: str = "info"
    sources: tuple[SourceSpec, ...] = field(default=())
    path: Path | None = None
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    http: HttpSettings | None = None  # None: no HTTP server (the default)


def config_path(explicit: str | None) -> Path | None:
    """``--config``, else ``$JOBSYNC_CONFIG``, else /etc/jobsync/config.toml when it exists."""
    return config_path_rule(explicit)[0]


def config_path_rule(explicit: str | None) -> tuple[Path | None, str]:
    """The config file ``config_path`` chooses, and the rule that chose it (``config check`` says)."""
    if explicit:
        return Path(explicit), "--config"
    if os.environ.get("JOBSYNC_CONFIG"):
        return Path(os.environ["JOBSYNC_CONFIG"]), "$JOBSYNC_CONFIG"
    if DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG, f"the default {DEFAULT_CONFIG}"
    return None, f"none: no --config, no $JOBSYNC_CONFIG, no {DEFAULT_CONFIG}"


def load_config(path: Path | None) -> Config:
    """Read and check a config file; no file means every default."""
    if path is None:
        return Config()
    import tomllib  # a few ms of start-up that a run without a config file does not pay

    if path.exists() and not path.is_file():  # a FIFO or a device would hang the read, or never end
        raise ConfigError(f"config file {path} is not a regular file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return _parse(data, path)


def _parse(data: dict[str, Any], path: Path) -> Config:
    _refuse_unknown(data, _TOP_KEYS, "")
    store = _store_url(data.get("store"))
    state_dir = _optional_str(data, "state_dir", "state_dir")
    if state_dir is not None and not state_dir.strip():
        raise ConfigError("state_dir: must not be empty (leave it out for the default)")
    log_format = _optional_str(data, "log_format", "log_format")
    if log_format not in (None, "json", "console"):
        raise ConfigError(f"log_format: must be 'json' or 'console', not {log_format!r}")
    log_level = _optional_str(data, "log_level", "log_level") or "info"
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"log_level: must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    heartbeat_timeout = parse_interval(
        data.get("heartbeat_timeout", DEFAULT_HEARTBEAT_TIMEOUT), "heartbeat_timeout"
    )
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ConfigError("sources: must be a list of [[sources]] tables")
    sources: list[SourceSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_sources):
        where = f"sources[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: must be a table")
        spec = _source(raw, where)
        if spec.name in seen:
            raise ConfigError(f"{where}.name: source {spec.name!r} is configured twice")
        seen.add(spec.name)
        sources.append(spec)
    return Config(
        http=_http(data.get("http")),
        store=store,
        state_dir=Path(state_dir) if state_dir else None,
        log_format=log_format,
        log_level=log_level,
        sources=tuple(sources),
        heartbeat_timeout=heartbeat_timeout,
        path=path,
    )


def _http(value: object) -> HttpSettings | None:
    """``[http]`` with ``listen = "HOST:PORT"`` (default loopback) and ``tokens_file``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError("http: must be an [http] table")
    _refuse_unknown(value, _HTTP_KEYS, "http.")
    listen = _optional_str(value, "listen", "http.listen")
    host, port = parse_listen(DEFAULT_LISTEN if listen is None else listen, "http.listen")
    tokens_file = _optional_str(value, "tokens_file", "http.tokens_file")
    if tokens_file is not None and not tokens_file.strip():
        raise ConfigError("http.tokens_file: must not be empty (leave it out for no API access)")
    return HttpSettings(host, port, Path(tokens_file) if tokens_file else None)


_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\s\[\]]*)):(?P<port>\d{1,5})$")


def parse_listen(text: str, where: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` (port 0: any free port); a bare ``:PORT`` means loopback."""
    match = _LISTEN.match(text.strip())
    port = int(match["port"]) if match else -1
    if match is None or port > 65535:
        raise ConfigError(f"{where}: must be HOST:PORT (e.g. 127.0.0.1:8642), not {text!r}")
    return match["v6"] or match["host"] or "127.0.0.1", port


def _store_url(value: object) -> str | None:
    """``store = "URL"``, or a ``[store]`` table with ``url`` (the form issue-era configs used)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        _refuse_unknown(value, {"url"}, "store.")
        url = _optional_str(value, "url", "store.url")
        if not url:
            raise ConfigError("store.url: a [store] table needs a url")
        return url
    raise ConfigError(f"store: must be a URL string or a [store] table, not {type(value).__name__}")


def _source(raw: dict[str, Any], where: str) -> SourceSpec:
    _refuse_unknown(raw, _SOURCE_KEYS, f"{where}.")
    name = _optional_str(raw, "name", f"{where}.name") or ""
    problem = source_name_problem(name)
    if problem is not None:
        raise ConfigError(f"{where}.name: {problem}")
    kind = _optional_str(raw, "kind", f"{where}.kind") or "git"
    if kind not in _LOCATION_KEY:
        raise ConfigError(f"{where}.kind: must be 'git', 'local' or 'app', not {kind!r}")
    location_key = _LOCATION_KEY[kind]
    for key, kinds in _KIND_ONLY.items():
        if key in raw and kind not in kinds:
            raise ConfigError(f"{where}.{key}: only {' and '.join(kinds)} sources take {key!r}")
    location = _optional_str(raw, location_key, f"{where}.{location_key}")
    if not location:
        raise ConfigError(f"{where}.{location_key}: a {kind} source needs {location_key!r}")
    if kind == "local":
        location = str(Path(location).expanduser().resolve())
    credentials_env = _optional_str(raw, "credentials_env", f"{where}.credentials_env")
    credentials_file = _optional_str(raw, "credentials_file", f"{where}.credentials_file")
    if credentials_env and credentials_file:
        raise ConfigError(f"{where}.credentials_file: give credentials_env or credentials_file, not both")
    remote = _remote_keys(raw, where, location) if kind == "git" else {}
    hook_env = _optional_str(raw, "webhook_secret_env", f"{where}.webhook_secret_env")
    hook_file = _optional_str(raw, "webhook_secret_file", f"{where}.webhook_secret_file")
    if hook_env and hook_file:
        raise ConfigError(
            f"{where}.webhook_secret_file: give webhook_secret_env or webhook_secret_file, not both"
        )
    max_uninstall = raw.get("max_uninstall")
    if max_uninstall is not None and (problem := max_uninstall_problem(max_uninstall)) is not None:
        raise ConfigError(f"{where}.max_uninstall: {problem}")
    return SourceSpec(
        name=name,
        url=location,
        branch=_optional_str(raw, "branch", f"{where}.branch"),
        kind=kind,
        include=_globs(raw, "include", where),
        exclude=_globs(raw, "exclude", where),
        interval=parse_interval(raw.get("interval", DEFAULT_INTERVAL), f"{where}.interval"),
        credentials_env=credentials_env,
        credentials_file=credentials_file,
        max_uninstall=max_uninstall,
        webhook_secret_env=hook_env or None,
        webhook_secret_file=hook_file or None,
        configured=True,
        **remote,
    )


def _remote_keys(raw: dict[str, Any], where: str, url: str) -> dict[str, Any]:
    """A git source's ref (branch, tag or commit) and how to reach its remote, checked against the URL."""
    given = [key for key in _REF_KEYS if raw.get(key) is not None]
    if len(given) > 1:
        raise ConfigError(
            f"{where}.{given[1]}: give one of branch, tag and commit, not {' and '.join(given)}"
        )
    transport = url_transport(url)
    for key, needs in _TRANSPORT_ONLY.items():
        if key in raw and transport != needs:
            raise ConfigError(f"{where}.{key}: only {_TRANSPORT_NAMES[needs]} URLs take {key!r}")
    values = {key: _optional_str(raw, key, f"{where}.{key}") for key in _REMOTE_STR_KEYS}
    for key in ("tag", "commit", "proxy", "ca_bundle", "ssh_key_file", "known_hosts_file"):
        if values[key] == "":
            raise ConfigError(f"{where}.{key}: must not be empty")
    commit = values["commit"]
    if commit is not None and not _FULL_SHA.fullmatch(commit):
        raise ConfigError(f"{where}.commit: must be a full commit sha (40 hex digits), not {commit!r}")
    auth = values.pop("auth") or "basic"
    if auth not in _AUTH_KINDS:
        raise ConfigError(f"{where}.auth: must be 'basic' or 'bearer', not {auth!r}")
    if auth == "bearer" and not (raw.get("credentials_env") or raw.get("credentials_file")):
        raise ConfigError(f"{where}.auth: a bearer token needs credentials_env or credentials_file")
    proxy = values["proxy"]
    if proxy is not None and not re.match(r"^https?://[^/?#\s]+", proxy):
        raise ConfigError(f"{where}.proxy: must be an http:// or https:// URL, not {redact_url(proxy)!r}")
    timeout = parse_interval(raw.get("timeout", DEFAULT_TIMEOUT), f"{where}.timeout")
    if timeout > MAX_TIMEOUT:
        raise ConfigError(f"{where}.timeout: must be at most {MAX_TIMEOUT:g} seconds, not {timeout:g}")
    return {**values, "auth": auth, "timeout": timeout}


_REMOTE_STR_KEYS = ("tag", "commit", "auth", "proxy", "ca_bundle", "ssh_key_file", "known_hosts_file")


_INTERVAL = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
MIN_INTERVAL = 1.0
#: A fetch that waits longer than a day for the next bytes has failed; socket libraries overflow far above.
MAX_TIMEOUT = 86_400.0


def parse_interval(value: object, where: str) -> float:
    """Seconds from a number or ``"30s"``, ``"5m"``, ``"1h"``; at least one second."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where}: must be seconds or a string like '30s', '5m', '1h'")
    if isinstance(value, str):
        match = _INTERVAL.match(value)
        if match is None:
            raise ConfigError(f"{where}: cannot read {value!r}; use seconds or '30s', '5m', '1h'")
        seconds = float(match["n"]) * _UNIT_SECONDS[match["unit"] or "s"]
    else:
        seconds = float(value)
    if not seconds >= MIN_INTERVAL or seconds == float("inf"):
        raise ConfigError(f"{where}: must be at least {MIN_INTERVAL:g} second, not {value!r}")
    return seconds


def _refuse_unknown(table: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key (known: {', '.join(sorted(known))})")


def _optional_str(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string, not {type(value).__name__}")
    return value


def _globs(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: must be a list of glob strings")
    return tuple(value)


def catalog_location(config: Config, store: str | None = None) -> tuple[str, Path, str]:
    """Where the catalog is (store URL, state folder) and why: the one rule every entry point follows.

    ``store`` is the command line's ``--store`` (or ``$JOBSYNC_STORE``), which wins over the config.
    """
    if config.state_dir is not None:
        state_dir, why_dir = config.state_dir, f"state_dir in {config.path}"
    else:
        state_dir, why_dir = state_dir_rule()
    if store:
        return store, state_dir, "--store (or $JOBSYNC_STORE)"
    if config.store:
        return config.store, state_dir, f"store in {config.path}"
    return default_store_url(state_dir), state_dir, f"jobsync.db in the state folder: {why_dir}"


def effective(config: Config, store: str | None = None) -> dict[str, Any]:
    """The configuration with every default filled in and secrets redacted, for ``config check``."""
    url, state_dir, why = catalog_location(config, store)
    return {
        "config_file": str(config.path) if config.path else None,
        "store": redact_url(url),
        "catalog_rule": why,
        "state_dir": str(state_dir),
        "log_format": config.log_format,
        "log_level": config.log_level,
        "heartbeat_timeout": config.heartbeat_timeout,
        "http": (
            {"listen": config.http.listen, "tokens_file": str(config.http.tokens_file or "") or None}
            if config.http
            else None
        ),
        "sources": [
            {
                "name": spec.name,
                "kind": spec.kind,
                _LOCATION_KEY[spec.kind]: spec.location,
                **({"branch": spec.branch, "interval": spec.interval} if spec.kind == "git" else {}),
                "include": list(spec.include),
                "exclude": list(spec.exclude),
                **({"credentials_env": spec.credentials_env} if spec.credentials_env else {}),
                **({"credentials_file": spec.credentials_file} if spec.credentials_file else {}),
                **({"max_uninstall": spec.max_uninstall} if spec.max_uninstall is not None else {}),
                **({"webhook_secret_env": spec.webhook_secret_env} if spec.webhook_secret_env else {}),
                **({"webhook_secret_file": spec.webhook_secret_file} if spec.webhook_secret_file else {}),
                **(_effective_remote(spec) if spec.kind == "git" else {}),
            }
            for spec in config.sources
        ],
    }


def _effective_remote(spec: SourceSpec) -> dict[str, Any]:
    """A git source's ref and transport settings, defaults filled in, the proxy's password removed."""
    optional = {
        "tag": spec.tag,
        "commit": spec.commit,
        "proxy": redact_url(spec.proxy) if spec.proxy else None,
        "ca_bundle": spec.ca_bundle,
        "ssh_key_file": spec.ssh_key_file,
        "known_hosts_file": spec.known_hosts_file,
    }
    transport = url_transport(spec.url)
    return {
        **{key: value for key, value in optional.items() if value is not None},
        **({"auth": spec.auth} if transport == "http" else {}),
        **({"timeout": spec.timeout} if transport != "local" else {}),
    }
