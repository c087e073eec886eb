"""Helpers of the API client tests: the seeded database's accounts and a way to put test routes first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine, text


def teacher_accounts(db: Engine) -> list[tuple[int, str]]:
    """(teacher_id, username) of teacher accounts whose blocks have uploads, most uploads first."""
    with db.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.teacher_id, a.username FROM app_users a JOIN blocks b ON b.teacher_id = a.teacher_id"
            " JOIN student_uploads u ON u.block_id = b.id WHERE a.role = 'teacher' AND a.is_active"
            " GROUP BY a.teacher_id, a.username ORDER BY count(*) DESC, a.teacher_id"))
        return [(row.teacher_id, row.username) for row in rows]


def visible_upload_ids(db: Engine, teacher_id: int) -> list[int]:
    with db.connect() as conn:
        return list(conn.execute(text(
            "SELECT u.id FROM student_uploads u JOIN blocks b ON b.id = u.block_id WHERE b.teacher_id = :t"
            " ORDER BY u.updated_at, u.id"), {"t": teacher_id}).scalars())


def add_first_route(app: FastAPI, path: str, endpoint: Callable[..., Any], methods: list[str]) -> None:
    """Register a test route ahead of the application's own (so it shadows a real route)."""
    app.add_api_route(path, endpoint, methods=methods)
    route = app.router.routes.pop()
    assert isinstance(route, APIRoute)
    app.router.routes.insert(0, route)
