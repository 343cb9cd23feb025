"""The live dashboard served by andon itself (no build step, no CDN).

``create_router()`` returns a FastAPI router for the page (``/``) and its static files
(``/static/...``, including plotly.js from the installed ``plotly`` package). The page reads
the JSON API under ``/api/v1`` on the same origin.
"""

from __future__ import annotations

from andon.web.dashboard import create_router

__all__ = ["create_router"]
