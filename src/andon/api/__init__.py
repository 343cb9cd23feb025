"""The REST API (FastAPI) and the dashboard's backend."""

from __future__ import annotations

from andon.api.app import create_app

__all__ = ["create_app"]
