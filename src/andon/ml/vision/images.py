"""Image folders: one row per image file, the class from the sub-folder it sits in.

A labelled folder has one sub-folder per class (``DIR/scratches/0001.png``); a folder of
images to inspect may be flat. Images are read as 8-bit grey (colour is converted) at
their own resolution: the features do not depend on the image size, but the texture
scale does, so train and inspect at the same magnification.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> for name in ("good", "scratch"):
...     (root / name).mkdir()
...     Image.new("L", (40, 40), 128).save(root / name / "a.png")
>>> frame = read_folder(root)
>>> frame["label"].tolist(), [Path(f).name for f in frame["file"]]
(['good', 'scratch'], ['a.png', 'a.png'])
>>> load_grey(frame["file"][0]).shape
(40, 40)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from PIL import Image, UnidentifiedImageError

from andon.errors import NotFound
from andon.ml.tables import TableError

__all__ = ["MIN_SIDE", "SUFFIXES", "load_grey", "read_folder", "require_labels"]

SUFFIXES = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff"})
MIN_SIDE = 32  # the coarsest texture statistic looks 8 pixels away at half resolution


def read_folder(path: Path | str) -> pd.DataFrame:
    """``file`` (and ``label``, when images sit in sub-folders) for every image under ``path``.

    Every image's header is checked, so an unreadable file is named before a long run.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotFound(f"no image folder at {root}")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in SUFFIXES and p.is_file() and not _hidden(p, root)
    )
    if not files:
        kinds = ", ".join(sorted(SUFFIXES))
        raise TableError(f"no images ({kinds}) in {root}")
    for file in files:
        _check_header(file)
    labels = [p.relative_to(root).parts[0] if p.parent != root else None for p in files]
    frame = pd.DataFrame({"file": [str(p) for p in files]})
    if any(label is not None for label in labels):
        frame["label"] = labels
    return frame


def require_labels(frame: pd.DataFrame, least: int) -> npt.NDArray[np.str_]:
    """The class of every image; at least two classes of ``least`` images each."""
    if "label" not in frame.columns:
        raise TableError("the images need labels: put them in one sub-folder per class")
    loose = frame["label"].isna()
    if loose.any():
        example = frame["file"][loose].iloc[0]
        raise TableError(
            f"{int(loose.sum())} images are not in a class sub-folder (e.g. {example})"
        )
    labels = np.asarray(frame["label"].astype(str).to_numpy(), dtype=np.str_)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise TableError(
            f"only one class ({str(classes[0])!r}): a classifier needs a sub-folder per class, "
            "at least two"
        )
    if counts.min() < least:
        few = ", ".join(f"{c} ({n})" for c, n in zip(classes, counts, strict=True) if n < least)
        raise TableError(f"every class needs at least {least} images; too few: {few}")
    return labels


def load_grey(file: str | Path) -> npt.NDArray[np.float32]:
    """One image as a ``(height, width)`` float32 array of grey levels 0-255."""
    try:
        with Image.open(file) as image:
            grey = image.convert("L")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise TableError(f"cannot read image {file}: {exc}") from exc
    return np.asarray(grey, dtype=np.float32)


def _check_header(file: Path) -> None:
    try:
        with Image.open(file) as image:
            width, height = image.size
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise TableError(f"cannot read image {file}: {exc}") from exc
    if min(width, height) < MIN_SIDE:
        raise TableError(f"{file} is {width}x{height} px; images need at least {MIN_SIDE} px")


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
