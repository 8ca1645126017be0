"""Callback URLs: what `callback VAR` hands out and `fmsh serve` takes POSTs at.

    BASE/cb/TOKEN     BASE: FMSH_CALLBACK_URL (default http://127.0.0.1:8470, where
                      `fmsh serve` listens by default); TOKEN: 256 random bits from
                      `secrets`, URL-safe base64 (43 characters)

The journal finds a callback by the SHA-256 of its token, so that no lookup compares the
token itself; the URL (the `callback` step's result, replayed when the task resumes) is
in the journal like the task's other state, which is private to its user.
"""

from __future__ import annotations

import hashlib
import re

DEFAULT_BASE = "http://127.0.0.1:8470"
PATH = "/cb/"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


def base_url(value: str | None) -> str:
    """The base the URLs start with, checked: FMSH_CALLBACK_URL's value, or the default."""
    from urllib.parse import urlsplit

    base = (value or DEFAULT_BASE).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"FMSH_CALLBACK_URL={value}: not an http:// or https:// address of `fmsh serve` "
            "(as in https://ops1.example.com:8470)"
        )
    return base


def url_for(base: str, token: str) -> str:
    return f"{base}{PATH}{token}"


def token_in(url: str) -> str | None:
    """The token of a callback URL (or a bare token); None when it holds none."""
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    head = url[: len(url.rstrip("/")) - len(tail)]
    if not is_token(tail) or (head and not head.endswith(PATH)):
        return None
    return tail
