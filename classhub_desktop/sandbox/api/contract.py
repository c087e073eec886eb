"""The API contract: the OpenAPI document the reference server serves, exported to resources/openapi.json.

The desktop's client and the tests read the exported file; tests/sandbox/api/test_contract.py fails when
the served document and the file differ, so a change of the API is always a visible change of the contract.
`classhub-desktop sandbox openapi --out resources/openapi.json` (in the repository) rewrites it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from classhub_desktop import locator
from classhub_desktop.sandbox.api.app import create_app
from classhub_desktop.sandbox.api.settings import ApiSettings

CONTRACT_FILE = "openapi.json"  # in resources/


def openapi_document() -> dict[str, Any]:
    """The document the server serves at /openapi.json (building the app connects to nothing)."""
    app = create_app(ApiSettings(conninfo="", files_dir=Path(".")))
    try:
        return app.openapi()
    finally:
        app.state.engine.dispose()


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, so a diff of the file shows only real changes of the contract."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def exported_contract() -> Path:
    return locator.resource(CONTRACT_FILE)


def read_exported() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(exported_contract().read_text(encoding="utf-8"))
    return document
