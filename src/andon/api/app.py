"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from andon import __version__, web
from andon.api import history, plant, production
from andon.api.errors import install_error_handlers
from andon.config import Settings
from andon.historian import DuckDBHistorian, open_historian
from andon.ingest import IngestStats

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    *,
    historian: DuckDBHistorian | None = None,
    ingest_stats: IngestStats | None = None,
) -> FastAPI:
    """The API and dashboard over ``historian`` (opened from ``settings.db`` if not given).

    Pass the historian of a running ingestion to share its connection: DuckDB allows one
    process per database file.
    """
    app = FastAPI(
        title="andon",
        version=__version__,
        description="MES and manufacturing AI: assets, history, OEE.",
    )
    app.state.settings = settings
    app.state.historian = historian or open_historian(settings.db)
    app.state.ingest_stats = ingest_stats
    install_error_handlers(app)
    for router in (plant.router, history.router, production.router):
        app.include_router(router)
    app.include_router(web.create_router())
    return app
