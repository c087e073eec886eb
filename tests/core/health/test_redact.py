"""Redaction of other sessions' SQL text and of API addresses shown by the health checks (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classhub_desktop.core.health.redact import redact_sql_literals, redact_url, redact_url_secrets, redact_urls_in


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT * FROM students WHERE email = 'ada@example.org'", "SELECT * FROM students WHERE email = ?"),
    ("UPDATE students SET last_name = 'O''Brien' WHERE id = 42", "UPDATE students SET last_name = ? WHERE id = ?"),
    ("ALTER ROLE bob PASSWORD 'pa''ss wörd'", "ALTER ROLE bob PASSWORD ?"),
    # E'' strings: a backslash escapes the quote, \\ is one backslash
    (r"SELECT E'it\'s a \\ secret', e'x\\' , 'y'", "SELECT ?, ? , ?"),
    (r"SELECT E'\\' || col FROM t", "SELECT ? || col FROM t"),
    # in a standard string a backslash is an ordinary character: the quote after it closes the string
    ("SELECT 'C:\\' AS path, name FROM t", "SELECT ? AS path, name FROM t"),
    # dollar quotes, with and without a tag; quotes inside them are literal text
    ("SELECT $$it's $secret$$, $body$ a $$ b 'c' $body$ FROM t", "SELECT ?, ? FROM t"),
    ("DO $fn$BEGIN PERFORM 'x'; END$fn$", "DO ?"),
    # prefixed strings: bit, hex, national and Unicode-escape strings
    ("SELECT B'1010', X'1F', N'name', U&'d\\0061t\\+000061'", "SELECT ?, ?, ?, ?"),
    # numbers of every form; identifiers with digits, parameters and casts stay
    ("SELECT -1.5e10, .5, 3., 1_000_000, 0x1F, 0o17, 0b101 FROM t", "SELECT -?, ?, ?, ?, ?, ?, ? FROM t"),
    ("SELECT t1.col_2, x$1 FROM t1 WHERE a = $1 AND b = $12::int4 LIMIT 10",
     "SELECT t1.col_2, x$1 FROM t1 WHERE a = $1 AND b = $12::int4 LIMIT ?"),
    # quoted identifiers keep their text, quotes inside included
    ('SELECT "Na\'me", "a""b" FROM "Students 2024" WHERE "x" = \'y\'',
     'SELECT "Na\'me", "a""b" FROM "Students 2024" WHERE "x" = ?'),
    # comments stay (application tags), nested ones too; a quote in a comment opens no string
    ("SELECT /* app: it's /* nested */ ok */ 1 -- don't\nFROM t WHERE s = 'v'",
     "SELECT /* app: it's /* nested */ ok */ ? -- don't\nFROM t WHERE s = ?"),
    ("SELECT set_config('app.user', 'alice@example.org', true)", "SELECT set_config(?, ?, true)"),
    # keywords and identifiers that start like a string prefix are not prefixes
    ("SELECT email, xmin, best'x'", "SELECT email, xmin, best?"),
])
def test_literals_are_redacted_and_the_shape_is_kept(sql: str, expected: str) -> None:
    assert redact_sql_literals(sql) == expected


@pytest.mark.parametrize("cut", [
    "INSERT INTO students (email) VALUES ('ada@exa",  # left(query, 300) cut a string
    "SELECT E'secret\\' still inside",  # an escaped quote does not close it
    "SELECT $tag$ secret $other$ more",
    "SELECT 'one' || 'secr",
])
def test_a_literal_cut_off_by_the_length_limit_is_redacted_to_the_end(cut: str) -> None:
    redacted = redact_sql_literals(cut)
    assert "secr" not in redacted and "exa" not in redacted
    assert redacted.endswith("?")


@given(st.text(alphabet=st.characters(exclude_characters="'\\", exclude_categories=["Cs"]), max_size=40))
def test_no_string_content_survives(secret: str) -> None:
    secret = "S3cr3t" + secret.replace("$", "")
    for sql in (f"SELECT '{secret}'", f"SELECT E'{secret}'", f"SELECT $q${secret}$q$", f"SELECT U&'{secret}'"):
        assert redact_sql_literals(sql) == "SELECT ?", sql


def test_text_without_literals_is_unchanged() -> None:
    sql = 'SELECT s.id, "Last Name" FROM students s JOIN schools sc ON sc.id = s.school_id WHERE s.id = $1'
    assert redact_sql_literals(sql) == sql
    assert redact_sql_literals("") == ""


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:pass@classhub.example.org", "https://***@classhub.example.org"),
    ("https://token@classhub.example.org:8443/api?x=1", "https://***@classhub.example.org:8443/api?x=1"),
    ("http://ad:p@ss:w@127.0.0.1:9/", "http://***@127.0.0.1:9/"),  # an unencoded @ in the password
    ("https://classhub.example.org/a@b", "https://classhub.example.org/a@b"),  # an @ in the path is no userinfo
    ("https://classhub.example.org", "https://classhub.example.org"),
])
def test_urls_lose_their_user_information(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_addresses_in_a_message_lose_their_user_information() -> None:
    message = ("The ClassHub API at 'https://admin:hunter2@h.example' cannot be reached; GET "
               "http://tok@127.0.0.1:8000/healthz; see https://docs.example/x")
    redacted = redact_urls_in(message)
    assert "hunter2" not in redacted and "tok@" not in redacted and "admin" not in redacted
    assert "'https://***@h.example'" in redacted and "http://***@127.0.0.1:8000/healthz" in redacted
    assert redacted.endswith("https://docs.example/x")


def test_a_given_addresss_user_information_is_hidden_even_without_its_scheme() -> None:
    url = "http://admin:pw-s3cret@127.0.0.1:9"
    message = "Nothing answers at admin:pw-s3cret@127.0.0.1:9 (connection refused); GET http://admin:pw-s3cret@x/"
    redacted = redact_url_secrets(message, url)
    assert redacted == "Nothing answers at ***@127.0.0.1:9 (connection refused); GET http://***@x/"
    assert redact_url_secrets("login failed for pw-s3cret", url) == "login failed for ***"
    assert redact_url_secrets("a b c", "http://u:ab@h") == "a b c"  # a short password is not searched alone
    assert redact_url_secrets("at host:1", "http://host:1") == "at host:1"
