"""The UCI SECOM data set as one table: the full 590 columns when present, else the 443 bundled.

SECOM (McCann and Johnston, UCI ML Repository id 179, CC BY 4.0) is 1,567 wafers x 590
process sensors with a pass/fail label. :func:`load_secom` reads a ``secom`` folder:

* ``secom.data`` (the UCI file, space separated, ``NaN`` for gaps) when it is there, after
  checking its MD5 against the UCI original's (a different file is an error, never a
  silent change of the data the figures are measured on);
* otherwise ``partial/secom_443cols_allrows.txt.gz``, all rows and 443 of the 590 columns,
  with their original column indices in its header.

Either way columns are named ``f<0-based UCI column>`` and ``fail`` is 1 for a failed wafer,
0 for a passed one, from ``secom_labels.data``.

>>> SECOM_MD5
'e4716cda08f7e67afe99a199eec6a801'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from andon.errors import NotFound
from andon.ml.tables import TableError

__all__ = ["FULL", "PARTIAL", "SECOM_MD5", "Secom", "load_secom"]

SECOM_MD5 = "e4716cda08f7e67afe99a199eec6a801"
FULL = "secom.data"
PARTIAL = "partial/secom_443cols_allrows.txt.gz"
_LABELS = "secom_labels.data"


@dataclass(frozen=True, slots=True)
class Secom:
    """The SECOM table, the file it was read from, and why (``note``)."""

    frame: pd.DataFrame
    path: Path
    note: str

    @property
    def columns(self) -> int:
        """Number of sensor columns (590 for the full file, 443 for the partial one)."""
        return len(self.frame.columns) - 1


def load_secom(folder: Path, md5: str = SECOM_MD5) -> Secom:
    """The SECOM table from ``folder``: ``secom.data`` if present (its MD5 must be ``md5``),
    else the bundled 443-column file."""
    full = folder / FULL
    if full.is_file():
        digest = hashlib.md5(full.read_bytes()).hexdigest()
        if digest != md5:
            raise TableError(
                f"{full} has MD5 {digest}, not the UCI original's {md5}: re-extract it "
                "from https://archive.ics.uci.edu/static/public/179/secom.zip (a copy with "
                "converted line endings or edited values has another MD5)"
            )
        frame = pd.read_csv(full, sep=r"\s+", header=None)  # CRLF or LF, any spacing
        frame.columns = [f"f{c}" for c in frame.columns]
        return Secom(_labelled(frame, folder), full, f"full UCI matrix, MD5 {md5} verified")
    partial = folder / PARTIAL
    if not partial.is_file():
        raise NotFound(f"neither {full} nor {partial} exists")
    frame = pd.read_csv(partial, sep=" ", index_col=0).reset_index(drop=True)
    frame.columns = [f"f{c}" for c in frame.columns]
    note = f"{full} not found: the bundled 443 of 590 columns (see partial/README_443cols.md)"
    return Secom(_labelled(frame, folder), partial, note)


def _labelled(frame: pd.DataFrame, folder: Path) -> pd.DataFrame:
    labels = pd.read_csv(folder / _LABELS, sep=" ", header=None)[0].to_numpy()
    if len(labels) != len(frame):
        raise TableError(f"{len(frame)} rows of sensors but {len(labels)} labels in {folder}")
    return frame.assign(fail=(labels == 1).astype(int))
