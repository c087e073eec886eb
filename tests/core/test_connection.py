"""Classification of real libpq messages (captured from libpq 17/18) into problems a user can act on."""

from __future__ import annotations

import pytest

from classhub_desktop.core.connection import Problem, classify_connect_error

MESSAGES = [
    ('could not translate host name "ssl-db.example.invalid" to address: Name or service not known',
     Problem.HOST_NOT_FOUND),
    ('connection to server at "tls.example.org" (127.0.0.1), port 5999 failed: Connection refused\n'
     "\tIs the server running on that host and accepting TCP/IP connections?", Problem.CONNECTION_REFUSED),
    ('connection to server at "cert-host" (127.0.0.1), port 5432 failed: timeout expired', Problem.TIMEOUT),
    ('connection to server at "127.0.0.1", port 5432 failed: server does not support SSL, but SSL was required',
     Problem.TLS_FAILURE),
    ('connection to server at "db" (10.1.1.1), port 5432 failed: SSL error: certificate verify failed',
     Problem.TLS_FAILURE),
    ('connection to server on socket "/tmp/.s.PGSQL.5432" failed: FATAL:  database "timeout" does not exist',
     Problem.DATABASE_MISSING),
    ('connection to server on socket "/tmp/.s.PGSQL.5432" failed: FATAL:  password authentication failed for '
     'user "ssl_admin"', Problem.AUTHENTICATION_FAILED),
    ('connection to server on socket "/tmp/.s.PGSQL.5432" failed: FATAL:  role "nobody" does not exist',
     Problem.AUTHENTICATION_FAILED),
    ('connection to server on socket "/nope/.s.PGSQL.5432" failed: No such file or directory',
     Problem.CONNECTION_REFUSED),
    ('missing "=" after "garbage" in connection info string', Problem.INVALID_SETTINGS),
]


@pytest.mark.parametrize(("message", "problem"), MESSAGES, ids=[p.name for _, p in MESSAGES])
def test_classification_ignores_quoted_names(message: str, problem: Problem) -> None:
    assert classify_connect_error(message, None) is problem
