"""Redaction for what the health checks show and save: other sessions' SQL text and API addresses.

- `redact_sql_literals`: pg_stat_activity.query is the statement as the client sent it, with its
  values (student names, e-mail addresses, `ALTER ROLE … PASSWORD '…'`). Every string literal
  ('…' with '' escapes, E'…' with backslash escapes, B'', X'', N'', U&'', $tag$…$tag$) and every
  numeric literal becomes `?`; keywords, identifiers ("quoted" too), parameters ($1), operators and
  comments stay, so the statement's shape is still readable. A literal cut off by the caller's
  `left(query, n)` is redacted to the end.
- `redact_url` / `redact_urls_in`: the user:password (or token@) part of an address becomes `***`;
  `redact_url_secrets` also hides a given address's user information where a message names it
  without its scheme ("Nothing answers at user:pw@host:port").

Pure functions: no I/O, no third-party imports.
"""

from __future__ import annotations

import re

__all__ = ["PLACEHOLDER", "redact_sql_literals", "redact_url", "redact_url_secrets", "redact_urls_in"]

PLACEHOLDER = "?"

_IDENT_START = re.compile(r"[A-Za-z_\x80-\U0010ffff]")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\x80-\U0010ffff]")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$")
_NUMBER = re.compile(
    r"0[xX][0-9A-Fa-f_]+|0[oO][0-7_]+|0[bB][01_]+"  # PostgreSQL 16+ integer forms
    r"|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?")
# A string prefix (E'', B'', X'', N'', U&'') is part of the literal when it starts a token.
_PREFIX = re.compile(r"(?:[eEbBxXnN]|[uU]&)'")


def redact_sql_literals(sql: str) -> str:
    """`sql` with its string and numeric literals replaced by `?` (see the module docstring)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        after_word = i > 0 and _IDENT_CHAR.match(sql[i - 1]) is not None
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif ch == "/" and sql.startswith("/*", i):
            end = _block_comment_end(sql, i)
            out.append(sql[i:end])
            i = end
        elif ch == '"':
            end = _quoted_end(sql, i + 1, '"', backslash=False)
            out.append(sql[i:end])
            i = end
        elif ch == "'":
            i = _quoted_end(sql, i + 1, "'", backslash=False)
            out.append(PLACEHOLDER)
        elif not after_word and (prefix := _PREFIX.match(sql, i)) is not None:
            backslash = ch in "eE"
            i = _quoted_end(sql, prefix.end(), "'", backslash=backslash)
            out.append(PLACEHOLDER)
        elif ch == "$" and not after_word and (tag := _DOLLAR_TAG.match(sql, i)) is not None:
            end = sql.find(tag.group(0), tag.end())
            i = n if end < 0 else end + len(tag.group(0))
            out.append(PLACEHOLDER)
        elif ch == "$" or _IDENT_START.match(ch):
            # a word (keyword, identifier) or a parameter ($1): copied whole, digits included
            end = i + 1
            while end < n and _IDENT_CHAR.match(sql[end]):
                end += 1
            out.append(sql[i:end])
            i = end
        elif (ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit())) and not after_word:
            number = _NUMBER.match(sql, i)
            end = number.end() if number is not None and number.end() > i else i + 1
            out.append(PLACEHOLDER)
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _quoted_end(sql: str, i: int, quote: str, *, backslash: bool) -> int:
    """The index after the closing `quote` of a literal whose body starts at `i` (doubled quotes are
    escapes; with `backslash`, so is a backslash before any character); len(sql) when unterminated."""
    n = len(sql)
    while i < n:
        ch = sql[i]
        if backslash and ch == "\\":
            i += 2
        elif ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n


def _block_comment_end(sql: str, i: int) -> int:
    """The index after the `*/` closing the comment at `i` (PostgreSQL nests them)."""
    depth, i, n = 0, i, len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


# user information: everything up to the last "@" before the host (an unencoded "@" in a password too)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/?#\s'\"<>]*)@")


def redact_url(url: str) -> str:
    """The address without its user name and password: https://user:pw@host/x -> https://***@host/x."""
    return redact_urls_in(url)


def redact_urls_in(text: str) -> str:
    """`text` (a message, a source line) with the user information of every address in it hidden."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}***@" if m.group(2) else m.group(0), text)


def redact_url_secrets(text: str, url: str) -> str:
    """`text` with the user information of `url` hidden wherever it appears: in any address
    (`redact_urls_in`), as "user:pw@" without a scheme, and the password alone (4+ characters)."""
    text = redact_urls_in(text)
    match = re.match(r"(?i)[a-z][a-z0-9+.\-]*://([^/?#\s]*)@", url.strip())
    if match is None or not match.group(1):
        return text
    userinfo = match.group(1)
    text = text.replace(f"{userinfo}@", "***@")
    password = userinfo.partition(":")[2]
    return text.replace(password, "***") if len(password) >= 4 else text
