"""The user's data: CSV or Parquet tables, their columns, and their fingerprint.

>>> frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
>>> require_columns(frame, ["a"], "--target")
>>> fingerprint(frame)["rows"], len(fingerprint(frame)["sha256"])
(2, 64)
>>> split_names("UDI, Product ID,,TWF")
['UDI', 'Product ID', 'TWF']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from andon.errors import InvalidRequest, NotFound

__all__ = ["TableError", "fingerprint", "read_table", "require_columns", "split_names"]

_READERS = {
    ".csv": lambda path: pd.read_csv(path, encoding="utf-8-sig"),
    ".txt": lambda path: pd.read_csv(path, encoding="utf-8-sig"),
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
}


class TableError(InvalidRequest):
    """The user's table cannot be used as asked (missing column, wrong type, empty)."""


def read_table(path: Path | str) -> pd.DataFrame:
    """A CSV (UTF-8, BOM tolerated; ``.csv.gz`` too) or Parquet file as a DataFrame."""
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no data file at {file}")
    suffixes = [s.lower() for s in file.suffixes]
    suffix = suffixes[-2] if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1 else None
    reader = _READERS.get(suffix or (suffixes[-1] if suffixes else ""))
    if reader is None:
        raise TableError(f"{file.name}: expected a .csv or .parquet file")
    try:
        frame: pd.DataFrame = reader(file)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise TableError(f"cannot read {file}: {exc}") from exc
    if frame.empty:
        raise TableError(f"{file} has no rows")
    return frame


def require_columns(frame: pd.DataFrame, columns: Iterable[str], option: str) -> None:
    """Raise :class:`TableError` naming the option when a column is missing."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        known = ", ".join(map(str, frame.columns[:20]))
        raise TableError(f"{option}: no column {missing!r} in the data (columns: {known})")


def split_names(text: str | None) -> list[str]:
    """Comma-separated column names, blanks dropped."""
    if not text:
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


def fingerprint(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns and a content hash: which data a model saw, for the registry."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest.update(hashed.tobytes())
    return {
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
        "sha256": digest.hexdigest(),
    }
