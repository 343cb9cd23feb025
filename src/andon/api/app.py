"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from andon import __version__, web
from andon.api import (
    forecast,
    history,
    ingest,
    live,
    mes,
    ml,
    plan,
    plant,
    production,
    quality,
    reports,
    rootcause,
    security,
)
from andon.api.auth import AuthConfig, authorize
from andon.api.errors import install_error_handlers
from andon.api.etags import ETags
from andon.config import Settings
from andon.historian import DuckDBHistorian, open_historian
from andon.ingest import IngestStats
from andon.mes.policy import policy_from_settings

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    *,
    historian: DuckDBHistorian | None = None,
    ingest_stats: IngestStats | None = None,
    auth: AuthConfig | None = None,
) -> FastAPI:
    """The API and dashboard over ``historian`` (opened from ``settings.db`` if not given).

    Pass the historian of a running ingestion to share its connection: DuckDB allows one
    process per database file. Every route of every router included here is behind
    :func:`andon.api.auth.authorize` (reads: viewer, writes: operator, unless declared).
    """
    app = FastAPI(
        title="andon",
        version=__version__,
        description="MES and manufacturing AI: assets, history, OEE.",
        dependencies=[Depends(authorize)],
        docs_url=None,  # served by the dashboard router with local assets: no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.oee_policy = policy_from_settings(settings.oee)  # bad config fails here
    app.state.historian = historian or open_historian(settings.db)
    app.state.ingest_stats = ingest_stats
    install_error_handlers(app)
    security.install(app, app.state.historian, auth or AuthConfig())
    for router in (
        plant.router,
        history.router,
        production.router,
        live.router,
        ingest.router,
        mes.router,
        reports.router,
        quality.router,
        plan.router,
        ml.router,
        rootcause.router,
        forecast.router,
    ):
        app.include_router(router)
    app.include_router(web.create_router())
    app.add_middleware(ETags)
    return app
