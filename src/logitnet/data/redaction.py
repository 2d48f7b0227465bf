"""Secrets kept out of every line logitnet shows: :func:`redact`.

Light on purpose (``re`` and ``os`` only), so the command line can pass a
library's warning through it without importing any filesystem.

What is a secret:

- a URL's user information, ``scheme://USER:PASSWORD@host``. The user
  name holds no ``:``, ``/`` or ``@``; the password may hold ``/`` and
  ``@`` (a secret key often does, unencoded), which makes such a URL
  ambiguous, so the rule errs on the side of hiding: after ``USER:`` the
  user information runs to the last ``@`` of the URL (which ends at
  whitespace or a quote): ``s3://AKIA:a/b@c@bucket/k`` shows as
  ``s3://***@bucket/k``, and a key holding ``@`` after a password is
  hidden up to its ``@``. A URL's user name and password
  are also remembered (:func:`remember`) and removed wherever they appear
  afterwards, as a library may echo them without the scheme (an "invalid
  bucket name" naming ``AKIA:PASSWORD@bucket``);
- the values of query parameters that carry credentials (``sig=``,
  ``token=``, ``X-Amz-Signature=``, ``code=``, ``key=``, ...);
- the values of storage options whose key names a secret (``secret``,
  ``client_kwargs.aws_secret_access_key``, ...), text or a number;
- the environment's secrets (``AWS_SECRET_ACCESS_KEY``, ...).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["option_secrets", "redact", "remember", "userinfo"]

#: Storage options (and query parameters) whose values are secrets.
SECRET_KEY = re.compile(
    r"key|secret|token|password|passwd|credential|sas|signature|auth", re.I
)

#: Query parameters whose values are secrets besides those SECRET_KEY
#: names: shared-access signatures, OAuth codes.
_SECRET_QUERY = re.compile(r"sig|code", re.I)

#: A URL's user information: the user (no ':', '/' or '@'), then the
#: password, which may hold '/' and '@', up to the URL's last '@'.
_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)"
    r"(?P<user>[^/@:\s]*)"
    r"(?::(?P<password>[^\s\"'<>]*))?@"
)

#: A query parameter: ``?name=value`` or ``&name=value``.
_QUERY = re.compile(
    r"(?P<lead>[?&;](?P<name>[A-Za-z0-9_.-]+)=)(?P<value>[^&#\s'\"<>)]*)"
)

#: The environment's secrets.
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_KEY")

#: Secrets seen in this process (URLs' user information and storage
#: options): removed from every line, wherever they appear.
_REMEMBERED: set[str] = set()

#: Shorter values are not taken for secrets: removing every "ab" would
#: garble a line and hide nothing.
_SHORTEST = 4


def remember(*secrets: str) -> None:
    """Remove these values from every line shown from now on."""
    _REMEMBERED.update(s for s in secrets if s and len(s) >= _SHORTEST)


def userinfo(url: str) -> tuple[str, ...]:
    """The secrets of ``url``'s user information: ``USER:PASSWORD`` and
    the password, or a user name alone (a token); none without one."""
    match = _USERINFO.match(url)
    if match is None:
        return ()
    user, password = match["user"], match["password"]
    return (f"{user}:{password}", password) if password else (user,)


def option_secrets(options: Mapping[str, Any] | None) -> list[str]:
    """The values of the secret storage options in ``options`` (nested
    dicts searched), as text: a secret given as a JSON number is one too."""
    found: list[str] = []
    _collect(options or {}, found)
    return found


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if SECRET_KEY.search(str(key)) and not isinstance(item, Mapping):
                if isinstance(item, bytes):
                    item = item.decode(errors="replace")
                if item is not None and not isinstance(item, bool):
                    found.append(str(item))
            else:
                _collect(item, found)


def _query_value(match: re.Match) -> str:
    name = match["name"]
    if SECRET_KEY.search(name) or _SECRET_QUERY.fullmatch(name):
        return f"{match['lead']}***"
    return match[0]


def redact(text: object, options: Mapping[str, Any] | None = None) -> str:
    """``text`` without a secret (see the module's docstring); ``options``
    are storage options whose secret values are removed too."""
    text = _USERINFO.sub(r"\g<scheme>***@", str(text))
    text = _QUERY.sub(_query_value, text)
    found = [os.environ.get(name, "") for name in _SECRET_ENV]
    found += option_secrets(options)
    found += _REMEMBERED
    for secret in sorted(
        {s for s in found if len(s) >= _SHORTEST}, key=len, reverse=True
    ):
        text = text.replace(secret, "***")
    return text
