"""Source URLs as text: which transport a URL uses, and the same URL without its credentials."""

from __future__ import annotations

import re

_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")
_SCP_USERINFO = re.compile(r"^[^/:@\s]+@(?=[^/:\s]+:)")
_SCP_LOCATION = re.compile(r"^(?:[^/:@\s]+@)?[^/:\s]{2,}:")


def url_transport(url: str) -> str:
    """``http`` for http(s) URLs, ``ssh`` for ``ssh://`` and ``user@host:path``, else ``local``."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("http", "https"):
        return "http"
    if scheme in ("ssh", "git+ssh", "ssh+git") or (not scheme and _SCP_LOCATION.match(url)):
        return "ssh"
    return "local"


def redact_url(url: str) -> str:
    """Drop the userinfo (``user:password@``) of a URL so it can go into logs, events and errors."""
    if "://" in url:
        return _URL_USERINFO.sub(r"\1", url, count=1)
    return _SCP_USERINFO.sub("", url, count=1)


def redact_text(text: str) -> str:
    """Drop userinfo from every URL inside a message, which may quote the URL it used."""
    return _URL_USERINFO.sub(r"\1", text)
