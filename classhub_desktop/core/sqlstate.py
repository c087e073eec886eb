"""One classification of PostgreSQL errors: a SQLSTATE (or, when the driver gives none, the name of the
psycopg exception class) -> a category and plain words for what happened and what to do.

Every layer that explains a database error asks here: the store's merge and teacher operations pick
their own exception from the category and add what they know (the action, the table, the lock
timeout); the error dialogs (ui/common/errors.py) show `what` and `advice` as they are; the
connection test (core/connection.py) starts from the category. Pure: no driver is imported; a
caller passes `exc.sqlstate` and `type(exc).__name__`.

SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class SqlCategory(Enum):
    TIMEOUT = "timeout"  # 57014 query_canceled: statement_timeout (or a cancel request)
    LOCKED = "locked"  # 55P03 lock_not_available: lock_timeout or NOWAIT
    CONFLICT = "conflict"  # 40P01 deadlock_detected, 40001 serialization_failure
    PERMISSION = "permission"  # 42501 insufficient_privilege (also row-level security)
    DUPLICATE = "duplicate"  # 23505 unique_violation
    CONSTRAINT = "constraint"  # the rest of class 23: foreign key, check, not null, exclusion
    AUTHENTICATION = "authentication"  # 28P01 invalid_password, 28000 invalid_authorization_specification
    DATABASE_MISSING = "database missing"  # 3D000 invalid_catalog_name
    TOO_MANY_CONNECTIONS = "too many connections"  # 53300
    SHUTDOWN = "server shutting down"  # 57P01 admin, 57P02 crash shutdown, 57P03 cannot connect now
    CONNECTION = "connection"  # class 08, a session ended by the server, libpq's errors without a SQLSTATE
    OTHER = "other"


_BY_SQLSTATE: dict[str, SqlCategory] = {
    "57014": SqlCategory.TIMEOUT,
    "55P03": SqlCategory.LOCKED,
    "40P01": SqlCategory.CONFLICT,
    "40001": SqlCategory.CONFLICT,
    "42501": SqlCategory.PERMISSION,
    "23505": SqlCategory.DUPLICATE,
    "28P01": SqlCategory.AUTHENTICATION,
    "28000": SqlCategory.AUTHENTICATION,
    "3D000": SqlCategory.DATABASE_MISSING,
    "53300": SqlCategory.TOO_MANY_CONNECTIONS,
    "57P01": SqlCategory.SHUTDOWN,
    "57P02": SqlCategory.SHUTDOWN,
    "57P03": SqlCategory.SHUTDOWN,
    "57P04": SqlCategory.CONNECTION,  # database_dropped: the session is gone
    "57P05": SqlCategory.CONNECTION,  # idle_session_timeout: the server closed the session
}
# SQLSTATE classes (the first two characters) whose other codes mean one thing here. Class 57 (operator
# intervention) ends the session, except a cancelled statement (57014, above).
_BY_CLASS: dict[str, SqlCategory] = {"23": SqlCategory.CONSTRAINT, "08": SqlCategory.CONNECTION,
                                     "57": SqlCategory.CONNECTION}
# psycopg's exception classes, for an error that carries no SQLSTATE (libpq failed before the server
# answered, or the connection was closed): class names rather than classes keep this module pure.
_BY_ERROR_CLASS: dict[str, SqlCategory] = {
    "OperationalError": SqlCategory.CONNECTION,
    "ConnectionTimeout": SqlCategory.CONNECTION,
    "QueryCanceled": SqlCategory.TIMEOUT,
    "LockNotAvailable": SqlCategory.LOCKED,
    "DeadlockDetected": SqlCategory.CONFLICT,
    "SerializationFailure": SqlCategory.CONFLICT,
    "InsufficientPrivilege": SqlCategory.PERMISSION,
    "UniqueViolation": SqlCategory.DUPLICATE,
    "IntegrityError": SqlCategory.CONSTRAINT,
}

_CONNECTION_ADVICE = ("Check that the server is running and that the connection profile (host, port, database) "
                      "is right.")
# category -> (what happened, what to do). `what` reads as the start of a sentence; the driver's own
# message may follow it after a colon.
_WORDS: dict[SqlCategory, tuple[str, str]] = {
    SqlCategory.TIMEOUT: ("The database stopped the statement because it took too long",
                          "Try again when the server is less busy, or narrow the selection."),
    SqlCategory.LOCKED: ("The rows are locked by another session",
                         "Wait until the other work has finished, then try again."),
    SqlCategory.CONFLICT: ("The database aborted the transaction because of a conflict with another session",
                           "Try again."),
    SqlCategory.PERMISSION: ("Your database role is not allowed to do this",
                             "Connect with a profile whose login has the right (administrators may do "
                             "everything), or ask an administrator for it."),
    SqlCategory.DUPLICATE: ("Another row already has this value, and the database allows it only once",
                            "Refresh to see the current data, then choose another value or change that row."),
    SqlCategory.CONSTRAINT: ("The change would break a rule of the database (a reference or a check)",
                             "Refresh to see the current data, resolve the conflicting rows, then try again."),
    SqlCategory.AUTHENTICATION: ("The database refused the login",
                                 "Check the user name and password of the connection profile."),
    SqlCategory.DATABASE_MISSING: ("The database does not exist",
                                   "Check the database name in the connection profile."),
    SqlCategory.TOO_MANY_CONNECTIONS: ("The database server has too many open connections",
                                       "Try again in a moment, or ask an administrator."),
    SqlCategory.SHUTDOWN: ("The database server is shutting down or starting up", "Try again when it is back."),
    SqlCategory.CONNECTION: ("Could not connect to the database", _CONNECTION_ADVICE),
    SqlCategory.OTHER: ("The database reported an error", ""),
}


@dataclass(frozen=True)
class SqlProblem:
    category: SqlCategory
    sqlstate: str  # "" when the driver gave none
    what: str  # what happened
    advice: str  # what to do ("" when there is nothing general to say)


def classify_sqlstate(sqlstate: str | None, error_class: str = "") -> SqlProblem:
    """The category and plain words of a database error.

    `sqlstate`: the error's SQLSTATE (psycopg: `exc.sqlstate`), None or "" when it has none.
    `error_class`: the psycopg exception's class name (`type(exc).__name__`), used when there is no
    SQLSTATE (libpq failed before the server answered, the connection was closed, a recorded error).
    """
    code = (sqlstate or "").upper()
    if code:  # the server's code decides; the class name only stands in for a missing one
        category = _BY_SQLSTATE.get(code) or _BY_CLASS.get(code[:2], SqlCategory.OTHER)
    else:
        category = _BY_ERROR_CLASS.get(error_class, SqlCategory.OTHER)
    what, advice = _WORDS[category]
    return SqlProblem(category, code, what, advice)
