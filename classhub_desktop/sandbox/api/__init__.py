"""The ClassHub reference API server (FastAPI), served by the sandbox on 127.0.0.1."""

from classhub_desktop.sandbox.api.app import create_app
from classhub_desktop.sandbox.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
