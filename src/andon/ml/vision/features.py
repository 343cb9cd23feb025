"""Texture features of grey images, vectorised with numpy over the pixels of a batch.

Surface defects are textures: the classes differ in how grey levels vary locally (crazing,
pitting), in elongated structures (scratches) and in blobs (inclusions, patches). Each
image becomes one vector of statistics that do not depend on the image size and do not
change when the image is turned by 90 degrees or mirrored (a scratch is a scratch at any
angle):

* ``clbp``: completed local binary patterns (Guo, Zhang & Zhang 2010) at several radii and
  two scales: the joint histogram of the sign pattern (rotation-invariant uniform code),
  the magnitude pattern (thresholded at the image's mean difference) and the centre
  pixel (above or below the image mean). The square root of each histogram is used
  (Hellinger), so that a linear model compares histograms sensibly.
* ``glcm``: grey-level co-occurrence statistics (contrast, homogeneity, energy,
  correlation, entropy) at several distances, mean and spread over the four directions.
* ``gradient``: histograms of gradient magnitude and of orientation (relative to the
  dominant orientation, either side alike) at two scales, how directional the image is,
  and how much its row and column means vary.
* ``intensity``: the grey-level histogram and moments of the raw image.

>>> rng = np.random.default_rng(0)
>>> images = rng.normal(128, 20, size=(2, 64, 64)).astype(np.float32)
>>> features = TextureFeatures()
>>> matrix = features.transform(images)
>>> matrix.shape == (2, len(features.names()))
True
>>> bool(np.isfinite(matrix).all())
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TextureFeatures"]

Images = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]

_GLCM_STATS = ("contrast", "homogeneity", "energy", "correlation", "entropy")
_ANGLES = ((0, 1), (1, 1), (1, 0), (1, -1))  # (dy, dx) per unit distance: 0, 45, 90, 135 deg
_INTENSITY_BINS = 32
_POINTS = 8  # neighbours per CLBP circle: one byte per pixel
_MAGNITUDE_BINS = 12
_ORIENTATION_BINS = 12


@dataclass(frozen=True)
class TextureFeatures:
    """The feature extractor; its parameters are exactly the constructor's arguments.

    ``radii``: CLBP radii in pixels (8 neighbours each), applied to the image and to its
    half-size copy; ``levels``/``distances``: GLCM grey levels (over +-2.5 standard
    deviations) and pixel distances. Images are processed at their own resolution.
    """

    radii: tuple[int, ...] = (1, 2, 3)
    levels: int = 16
    distances: tuple[int, ...] = (1, 2, 4, 8)

    def get_params(self) -> dict[str, Any]:
        return asdict(self)

    def names(self) -> list[str]:
        """One name per column of :meth:`transform`: ``group.detail``."""
        bins = (_POINTS + 2) ** 2 * 2
        names = [
            f"clbp_s{scale}_r{r}.{i}" for scale in (1, 2) for r in self.radii for i in range(bins)
        ]
        names += [
            f"glcm.d{d}_{stat}_{agg}"
            for d in self.distances
            for stat in _GLCM_STATS
            for agg in ("mean", "range")
        ]
        for scale in (1, 2):
            names += [f"gradient_s{scale}.magnitude_{i}" for i in range(_MAGNITUDE_BINS)]
            names += [
                f"gradient_s{scale}.orientation_{i}" for i in range(_ORIENTATION_BINS // 2 + 1)
            ]
            names += [f"gradient_s{scale}.{m}" for m in ("coherence", "profile_max", "profile_min")]
        names += [f"intensity.hist_{i}" for i in range(_INTENSITY_BINS)]
        names += [f"intensity.{m}" for m in ("mean", "std", "skew", "kurtosis")]
        names += [f"intensity.p{p}" for p in (1, 5, 50, 95, 99)]
        return names

    def transform(self, images: Images) -> Matrix:
        """``(n, height, width)`` grey images (0-255) to an ``(n, features)`` matrix."""
        raw = np.asarray(images, dtype=np.float32)
        z = _standardise(raw)
        half = _halve(z)
        blocks = [clbp(image, r, _POINTS) for image in (z, half) for r in self.radii]
        blocks.append(glcm(z, self.levels, self.distances))
        blocks += [gradient(z), gradient(half)]
        blocks.append(intensity(raw))
        return np.concatenate(blocks, axis=1)


def _standardise(images: Images) -> Images:
    mean = images.mean(axis=(1, 2), keepdims=True)
    std = images.std(axis=(1, 2), keepdims=True)
    return np.asarray((images - mean) / np.maximum(std, 1e-3), dtype=np.float32)


def _halve(images: Images) -> Images:
    """2x2 average pooling: the same texture seen at half the resolution."""
    n, h, w = images.shape
    cropped = images[:, : h // 2 * 2, : w // 2 * 2]
    pooled = cropped.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4), dtype=np.float32)
    return np.asarray(pooled, dtype=np.float32)


def _riu2_table(points: int) -> npt.NDArray[np.uint8]:
    """Rotation-invariant uniform code (0..points+1) of every ``points``-bit pattern."""
    patterns = np.arange(2**points)
    bits = (patterns[:, None] >> np.arange(points)) & 1
    transitions = (bits != np.roll(bits, 1, axis=1)).sum(axis=1)
    return np.where(transitions <= 2, bits.sum(axis=1), points + 1).astype(np.uint8)


def _offsets(radius: int, points: int) -> list[list[tuple[int, int, float]]]:
    """Per neighbour, the (dy, dx, weight) pixels whose bilinear mix samples the circle."""
    out = []
    for p in range(points):
        angle = 2 * np.pi * p / points
        dy, dx = round(-radius * np.sin(angle), 9), round(radius * np.cos(angle), 9)
        y0, x0 = int(np.floor(dy)), int(np.floor(dx))
        fy, fx = dy - y0, dx - x0
        taps = [
            (y0, x0, (1 - fy) * (1 - fx)),
            (y0, x0 + 1, (1 - fy) * fx),
            (y0 + 1, x0, fy * (1 - fx)),
            (y0 + 1, x0 + 1, fy * fx),
        ]
        out.append([(oy, ox, w) for oy, ox, w in taps if w > 1e-9])
    return out


def clbp(images: Images, radius: int, points: int) -> Matrix:
    """Square-rooted joint CLBP_S/M/C histograms, ``(points + 2) ** 2 * 2`` bins per image.

    Sign and magnitude bits are packed into one byte per pixel and mapped to their
    rotation-invariant uniform codes through a lookup table.
    """
    n, h, w = images.shape
    inner_h, inner_w = h - 2 * radius, w - 2 * radius
    centre = images[:, radius : radius + inner_h, radius : radius + inner_w]
    magnitude = np.empty((points, n, inner_h, inner_w), dtype=np.float32)
    signs = np.zeros(centre.shape, dtype=np.uint8)
    scratch = np.empty_like(centre)
    for p, taps in enumerate(_offsets(radius, points)):
        sample = magnitude[p]
        sample.fill(0.0)
        for oy, ox, weight in taps:
            top, left = radius + oy, radius + ox
            window = images[:, top : top + inner_h, left : left + inner_w]
            np.multiply(window, np.float32(weight), out=scratch)
            sample += scratch
        sample -= centre
        signs |= (sample >= 0).view(np.uint8) << np.uint8(p)
        np.abs(sample, out=sample)
    threshold = magnitude.mean(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
    strong = np.zeros(centre.shape, dtype=np.uint8)
    for p in range(points):
        strong |= (magnitude[p] >= threshold[:, None, None]).view(np.uint8) << np.uint8(p)
    table = _riu2_table(points)
    width = points + 2  # joint code below width**2 * 2 = 200: fits a byte
    code = table[signs] * np.uint8(width * 2)
    code += table[strong] * np.uint8(2)
    code += (centre >= images.mean(axis=(1, 2), keepdims=True)).view(np.uint8)
    return _histograms(code, width * width * 2)


def _histograms(codes: npt.NDArray[np.integer[Any]], bins: int) -> Matrix:
    """Per-image normalised, square-rooted histograms of integer codes ``(n, ...)``."""
    n = codes.shape[0]
    flat = codes.reshape(n, -1)
    offset = (np.arange(n, dtype=np.intp) * bins)[:, None]
    counts = np.bincount((flat + offset).ravel(), minlength=n * bins).reshape(n, bins)
    return np.sqrt(counts / flat.shape[1])


def glcm(images: Images, levels: int, distances: tuple[int, ...]) -> Matrix:
    """Co-occurrence statistics per distance: mean and range over the four directions."""
    n, h, w = images.shape
    quantised = np.clip((images + 2.5) * (levels / 5.0), 0, levels - 1).astype(np.uint16)
    i, j = np.meshgrid(np.arange(levels), np.arange(levels), indexing="ij")
    columns = []
    for d in distances:
        per_angle = []
        for uy, ux in _ANGLES:
            dy, dx = uy * d, ux * d
            a = quantised[:, : h - dy, max(0, -dx) : w - max(0, dx)]
            b = quantised[:, dy:, max(0, dx) : w + min(0, dx)]
            pairs = (a * levels + b).reshape(n, -1)
            counts = np.stack([np.bincount(row, minlength=levels * levels) for row in pairs])
            matrix = counts.reshape(n, levels, levels).astype(np.float64)
            matrix = matrix + matrix.transpose(0, 2, 1)
            matrix /= matrix.sum(axis=(1, 2), keepdims=True)
            per_angle.append(_glcm_stats(matrix, i, j))
        stats = np.stack(per_angle, axis=2)  # (n, stats, angles)
        summary = np.stack([stats.mean(axis=2), np.ptp(stats, axis=2)], axis=2)
        columns.append(summary.reshape(n, -1))
    return np.concatenate(columns, axis=1)


def _glcm_stats(p: Matrix, i: npt.NDArray[np.int_], j: npt.NDArray[np.int_]) -> Matrix:
    mu = (p * i).sum(axis=(1, 2), keepdims=True)
    var = (p * (i - mu) ** 2).sum(axis=(1, 2), keepdims=True)
    contrast = (p * (i - j) ** 2).sum(axis=(1, 2))
    homogeneity = (p / (1.0 + (i - j) ** 2)).sum(axis=(1, 2))
    energy = np.sqrt((p**2).sum(axis=(1, 2)))
    correlation = (
        (p * (i - mu) * (j - mu)).sum(axis=(1, 2), keepdims=True) / np.maximum(var, 1e-12)
    )[:, 0, 0]
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=(1, 2))
    return np.stack([contrast, homogeneity, energy, correlation, entropy], axis=1)


def gradient(images: Images) -> Matrix:
    """Magnitude and dominant-aligned orientation histograms, coherence, line profiles."""
    n = images.shape[0]
    gy = images[:, 2:, 1:-1] - images[:, :-2, 1:-1]
    gx = images[:, 1:-1, 2:] - images[:, 1:-1, :-2]
    magnitude = np.hypot(gx, gy)
    step = np.float32(3.0 / (_MAGNITUDE_BINS - 1))  # bins of 0.27 standard deviations
    which = np.minimum(magnitude / step, _MAGNITUDE_BINS - 1).astype(np.intp)
    mag_hist = _histograms(which, _MAGNITUDE_BINS) ** 2
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # orientation, sign ignored
    bins = np.minimum((angle / np.pi * _ORIENTATION_BINS).astype(np.intp), _ORIENTATION_BINS - 1)
    offset = (np.arange(n) * _ORIENTATION_BINS)[:, None]
    weights = magnitude.reshape(n, -1)
    ori = np.bincount(
        (bins.reshape(n, -1) + offset).ravel(),
        weights=weights.ravel(),
        minlength=n * _ORIENTATION_BINS,
    ).reshape(n, _ORIENTATION_BINS)
    ori = ori / np.maximum(ori.sum(axis=1, keepdims=True), 1e-12)
    shift = np.argmax(ori, axis=1)
    index = (np.arange(_ORIENTATION_BINS)[None, :] + shift[:, None]) % _ORIENTATION_BINS
    ori = np.take_along_axis(ori, index, axis=1)
    half = _ORIENTATION_BINS // 2  # fold j and -j degrees off the dominant: mirror-invariant
    ori = np.concatenate(
        [ori[:, :1], ori[:, 1:half] + ori[:, -1:half:-1], ori[:, half : half + 1]], axis=1
    )
    gxx = (gx * gx).reshape(n, -1).sum(axis=1)
    gyy = (gy * gy).reshape(n, -1).sum(axis=1)
    gxy = (gx * gy).reshape(n, -1).sum(axis=1)
    coherence = np.hypot(gxx - gyy, 2 * gxy) / np.maximum(gxx + gyy, 1e-12)
    rows = images.mean(axis=2).std(axis=1)
    cols = images.mean(axis=1).std(axis=1)
    profiles = np.stack([np.maximum(rows, cols), np.minimum(rows, cols)], axis=1)
    return np.concatenate([mag_hist, ori, coherence[:, None], profiles], axis=1)


def intensity(images: Images) -> Matrix:
    """Grey-level histogram (32 bins over 0-255), moments and percentiles of the raw image."""
    n = images.shape[0]
    levels = np.clip(images.reshape(n, -1), 0, 255).astype(np.intp)
    offset = (np.arange(n) * 256)[:, None]
    counts = np.bincount((levels + offset).ravel(), minlength=n * 256).reshape(n, 256)
    share = counts / levels.shape[1]
    hist = np.sqrt(share.reshape(n, _INTENSITY_BINS, -1).sum(axis=2))
    grey = np.arange(256.0)
    mean = share @ grey
    centred = grey[None, :] - mean[:, None]
    var = (share * centred**2).sum(axis=1)
    std = np.sqrt(np.maximum(var, 1e-12))
    skew = (share * centred**3).sum(axis=1) / std**3
    kurtosis = (share * centred**4).sum(axis=1) / std**4 - 3.0
    cumulative = np.cumsum(share, axis=1)
    percentiles = np.stack(
        [(cumulative < q).sum(axis=1) for q in (0.01, 0.05, 0.5, 0.95, 0.99)], axis=1
    )
    moments = np.stack([mean / 255.0, std / 255.0, skew, kurtosis], axis=1)
    return np.concatenate([hist, moments, percentiles / 255.0], axis=1)
