"""How every ``andon`` command reports andon's own errors: one clear line, exit status 1."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console

from andon.errors import AndonError

__all__ = ["guarded"]

_err = Console(stderr=True)


def guarded(action: Callable[[], None]) -> None:
    """Run ``action``; an :class:`AndonError` prints ``error: ...`` and exits 1, no traceback."""
    try:
        action()
    except AndonError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
