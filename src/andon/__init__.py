"""andon: an open-source MES with built-in manufacturing AI."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
