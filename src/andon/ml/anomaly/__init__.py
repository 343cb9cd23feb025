"""Streaming anomaly detectors for live tags (River's ``learn_one`` / ``score_one``)."""

from __future__ import annotations

from andon.ml.anomaly.discord import DiscordDetector
from andon.ml.anomaly.multi import (
    DETECTORS,
    MultiDetector,
    default_probation,
    detect_frame,
    make_detector,
)
from andon.ml.anomaly.simple import GaussianWindow, PageHinkley

__all__ = [
    "DETECTORS",
    "DiscordDetector",
    "GaussianWindow",
    "MultiDetector",
    "PageHinkley",
    "default_probation",
    "detect_frame",
    "make_detector",
]
