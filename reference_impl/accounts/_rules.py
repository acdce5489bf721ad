"""What an agent's name and password must be."""

from __future__ import annotations

import re
import unicodedata

MIN_PASSWORD = 12
MAX_PASSWORD = 1024            # argon2 takes any length; a megabyte "password" is an attack
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")


class AccountError(ValueError):
    """A name or password refused, or an agent that does not (or already) exists: one line."""


def clean_name(name: object) -> str:
    """The agent's name as stored (lower case); `AccountError` unless it is 2 to 64 letters,
    digits, `.`, `_`, `-` or `@`, starting with a letter or a digit."""
    if not isinstance(name, str):
        raise AccountError("an agent's name must be text")
    cleaned = unicodedata.normalize("NFKC", name).strip().lower()
    if len(cleaned) < 2:
        raise AccountError(f"agent name {name!r} is too short: at least 2 characters")
    if not _NAME.fullmatch(cleaned):
        raise AccountError(f"agent name {name!r}: use 2 to 64 letters, digits, '.', '_', '-' "
                           "or '@', starting with a letter or a digit")
    return cleaned


def check_password(password: object) -> str:
    """The password; `AccountError` if it is shorter than 12 characters (or absurdly long)."""
    if not isinstance(password, str):
        raise AccountError("a password must be text")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password
