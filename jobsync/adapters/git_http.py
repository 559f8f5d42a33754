"""urllib3's part of Git over HTTP: the retry policy of dulwich's pool, loaded only for http(s) sources."""

from __future__ import annotations

from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

from urllib3 import BaseHTTPResponse, PoolManager
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util import Retry

from jobsync.urls import redact_url

#: Redirects an HTTP fetch follows (hosts redirect renamed repositories); failures are not retried.
MAX_REDIRECTS = 5


def try_once(pool: object, *, same_origin_only: bool) -> PoolManager:
    """Dulwich's ``pool``, set to send each request once and follow at most MAX_REDIRECTS redirects.

    urllib3 would retry a read timeout three times, so a hung server would take four timeouts;
    the next scheduled sync is the retry. ``same_origin_only`` refuses redirects to another host.
    """
    assert isinstance(pool, PoolManager)  # a callback-wrapping manager comes only with auth callbacks
    policy = _SameOriginRetry if same_origin_only else Retry
    pool.connection_pool_kw["retries"] = policy(
        total=None, connect=0, read=0, status=0, other=0, redirect=MAX_REDIRECTS
    )
    return pool


class _SameOriginRetry(Retry):
    """urllib3's retry policy, refusing redirects to another scheme, host or port.

    A bearer token travels as a header of the whole connection pool (dulwich's http.extraHeader),
    so following a redirect elsewhere would hand the token to that host.
    """

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        location = response.get_redirect_location() if response is not None else None
        if url and location and _origin(urljoin(url, location)) != _origin(url):
            refused = ResponseError(
                f"refused a redirect to {redact_url(urljoin(url, location))}: another host"
            )
            raise MaxRetryError(_pool, url, refused)  # type: ignore[arg-type]  # urllib3 accepts None here
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port)
