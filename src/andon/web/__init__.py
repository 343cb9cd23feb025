"""The live dashboard served by andon itself (no build step, no CDN).

``create_router()`` returns a FastAPI router for the pages (``/`` and those in ``PAGES``) and
their static files (``/static/...``, including plotly.js from the installed ``plotly``
package). The pages read the JSON API under ``/api/v1`` on the same origin and listen to its
live stream.
"""

from __future__ import annotations

from andon.web.dashboard import PAGES, create_router

__all__ = ["PAGES", "create_router"]
