"""What crosses between andon and psycopg: COPY streams, placeholders, URLs, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import errors as pg_errors

from andon.errors import HistorianError, HistorianUnavailable

__all__ = ["copy_buffer", "latest_per_tag", "redacted", "split_url", "to_psycopg", "translated"]

_PG_EPOCH_MS = 946_684_800_000  # PostgreSQL counts microseconds from 2000-01-01 UTC
_COPY_ROW = np.dtype(  # field count, then (length, big-endian value) per column
    [
        ("n", ">i2"),
        ("l1", ">i4"),
        ("tag", ">i4"),
        ("l2", ">i4"),
        ("ts", ">i8"),
        ("l3", ">i4"),
        ("value", ">f8"),
    ]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"


def copy_buffer(tag_ids: np.ndarray, ts_ms: np.ndarray, values: np.ndarray) -> bytes:
    """PostgreSQL's binary COPY stream of ``(INTEGER, TIMESTAMPTZ, DOUBLE PRECISION)`` rows.

    Built with numpy in one pass rather than row by row (the format is fixed-width here).

    >>> buf = copy_buffer(np.array([7]), np.array([946_684_800_001]), np.array([1.5]))
    >>> len(buf), buf[19:21], buf[-2:]
    (55, b'\\x00\\x03', b'\\xff\\xff')
    """
    rows = np.empty(len(tag_ids), _COPY_ROW)
    rows["n"], rows["l1"], rows["l2"], rows["l3"] = 3, 4, 8, 8
    rows["tag"] = tag_ids
    rows["ts"] = (ts_ms - _PG_EPOCH_MS) * 1000
    rows["value"] = values
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


_SQL_TOKENS = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\$(\w*)\$.*?\$\1\$|[?%]", re.S
)


@lru_cache(maxsize=512)
def to_psycopg(statement: str) -> str:
    """Translate ``?`` placeholders to psycopg's ``%s`` (outside quotes and comments).

    >>> to_psycopg("SELECT '?', x FROM t WHERE a = ? AND b LIKE '5%' -- why?")
    "SELECT '?', x FROM t WHERE a = %s AND b LIKE '5%%' -- why?"
    """

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        return "%s" if token == "?" else token.replace("%", "%%")

    return _SQL_TOKENS.sub(swap, statement)


def latest_per_tag(
    ids: np.ndarray, stamps: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tag ids ascending, their newest ts, the value at it) of a batch, with numpy.

    >>> latest_per_tag(np.array([2, 1, 2]), np.array([5, 7, 9]), np.array([.5, .7, .9]))
    (array([1, 2]), array([7, 9]), array([0.7, 0.9]))
    """
    order = np.lexsort((stamps, ids))  # by tag, then time: each tag's last row is its newest
    tags = ids[order]
    last = order[np.r_[tags[1:] != tags[:-1], True]]
    return ids[last], stamps[last], values[last]


def split_url(url: str) -> tuple[str, str | None]:
    """(libpq URL without andon's own ``schema`` parameter, that schema)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((value for key, value in query if key == "schema"), None)
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


_UNAVAILABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    pg_errors.InsufficientResources,  # disk full, out of memory, too many connections
    pg_errors.OperatorIntervention,  # shutdown, cannot connect now
)


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Translate psycopg's errors into the andon tree at the boundary."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise HistorianUnavailable(f"historian {action} failed: {exc}") from exc
    except psycopg.Error as exc:
        raise HistorianError(f"historian {action} failed: {exc}") from exc
