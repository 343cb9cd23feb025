"""How every ``andon`` command reports andon's own errors (one clear line, exit status 1),
and how long-running commands stop (Ctrl-C, SIGINT or SIGTERM: cleanly, data flushed)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import typer
from rich.console import Console

from andon.errors import AndonError

__all__ = ["guarded", "stop_on_signals"]

_err = Console(stderr=True)


def guarded(action: Callable[[], None]) -> None:
    """Run ``action``; an :class:`AndonError` prints ``error: ...`` and exits 1, no traceback."""
    try:
        action()
    except AndonError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT stop like Ctrl-C (a :class:`KeyboardInterrupt` in the main thread).

    SIGINT too, because a process started in the background of a script inherits SIGINT
    ignored, and Python then never turns it into ``KeyboardInterrupt``: ``kill -INT`` would
    do nothing. Outside the main thread (tests calling a command) nothing changes.
    """

    def _interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
