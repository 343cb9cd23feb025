"""The NAB scorer against a literal reading of the paper, and the detector on real NAB files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from andon.ml.anomaly import DiscordDetector
from andon.ml.evaluate import nab


def _reference(series: list[nab.NabSeries], profile: nab.NabProfile, threshold: float) -> float:
    """Raw NAB score, point by point, as the paper describes it (no vectorisation)."""
    total = 0.0
    for s in series:
        n = len(s.scores)
        probation = nab.probation_length(n)
        windows = sorted(s.windows)
        best = {w: None for w in windows if w[1] >= probation}
        for i in range(probation, n):
            if s.scores[i] < threshold:
                continue
            inside = [w for w in windows if w[0] <= i <= w[1]]
            if inside:
                left, right = inside[0]
                width = right - left + 1
                weight = nab.scaled_sigmoid(-(right - i + 1) / width) / nab.scaled_sigmoid(-1.0)
                previous = best[inside[0]]
                best[inside[0]] = weight if previous is None else max(previous, weight)
                continue
            before = [w for w in windows if w[1] < i]
            if not before:
                total -= profile.fp
                continue
            left, right = before[-1]
            width = right - left + 1
            total += nab.scaled_sigmoid(abs(right - i) / (width - 1)) * profile.fp
        for found in best.values():
            total += -profile.fn if found is None else found * profile.tp
    return total


def _random_corpus(seed: int) -> list[nab.NabSeries]:
    rng = np.random.default_rng(seed)
    corpus = []
    for f in range(4):
        n = int(rng.integers(300, 900))
        starts = sorted(
            rng.choice(np.arange(100, n - 40), size=int(rng.integers(0, 3)), replace=False)
        )
        windows = []
        for start in starts:
            if windows and start <= windows[-1][1] + 1:
                continue
            windows.append((int(start), int(min(n - 1, start + rng.integers(5, 30)))))
        scores = np.round(rng.random(n) ** 8, 3)  # sparse high scores, many ties
        corpus.append(nab.NabSeries(f"f{f}", scores, windows))
    return corpus


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("profile", sorted(nab.PROFILES))
def test_vectorised_score_equals_the_papers_definition(seed: int, profile: str) -> None:
    corpus = _random_corpus(seed)
    prof = nab.PROFILES[profile]
    for threshold in (0.2, 0.5, 0.9):
        result = nab.score_corpus(corpus, profile, threshold=threshold)
        assert result.raw == pytest.approx(_reference(corpus, prof, threshold))
    best = nab.score_corpus(corpus, profile)
    candidates = {float(v) for s in corpus for v in s.scores} | {1.1}
    brute = max(_reference(corpus, prof, t) for t in candidates)
    assert best.raw == pytest.approx(max(brute, best.null))


def test_null_and_perfect_detectors_score_0_and_100() -> None:
    corpus = _random_corpus(7)
    for series in corpus:
        series.scores = np.zeros(len(series.scores))
    for profile in nab.PROFILES:
        assert nab.score_corpus(corpus, profile).score == 0.0
    for series in corpus:
        for left, _ in series.windows:
            series.scores[left] = 1.0
    for profile in nab.PROFILES:
        assert nab.score_corpus(corpus, profile).score == pytest.approx(100.0)


def test_probation_points_are_neither_rewarded_nor_penalised() -> None:
    n = 1000
    series = nab.NabSeries("p", np.zeros(n), [(600, 650)])
    series.scores[:150] = 1.0  # probation is 150 points here
    result = nab.score_corpus([series], "standard", threshold=0.5)
    assert nab.probation_length(n) == 150
    assert (result.fp, result.tp, result.score) == (0, 0, 0.0)


def test_an_early_detection_earns_more_than_a_late_one() -> None:
    def score_at(i: int) -> float:
        series = nab.NabSeries("w", np.zeros(1000), [(500, 599)])
        series.scores[i] = 1.0
        return nab.score_corpus([series], "standard").raw

    assert score_at(500) > score_at(550) > score_at(590) > 0
    assert math.isclose(score_at(500), 1.0)


# Three real files: a known machine failure, traffic occupancy, an artificial level shift.
FILES = (
    "realKnownCause/machine_temperature_system_failure.csv",
    "realTraffic/occupancy_t4013.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
)


def _detect(path: Path) -> np.ndarray:
    values = pd.read_csv(path)["value"].to_numpy(dtype=float)
    detector = DiscordDetector(probation=nab.probation_length(len(values)))
    scores = np.zeros(len(values))
    for i, value in enumerate(values):
        scores[i] = detector.score_one({"value": float(value)})
        detector.learn_one({"value": float(value)})
    return scores


@pytest.mark.slow
def test_discord_detector_on_real_nab_files(shared_datasets: Path) -> None:
    root = shared_datasets / "nab"
    corpus = [s for s in nab.load_corpus(root) if s.name in FILES]
    assert len(corpus) == 3
    for series in corpus:
        series.scores = _detect(root / "data" / series.name)
    standard = nab.score_corpus(corpus, "standard")
    assert standard.score >= 80.0, standard  # measured: 90.1, every window found
    assert (standard.tp, standard.fn) == (7, 0)
    temperature = corpus[[s.name for s in corpus].index(FILES[0])]
    alarms = np.flatnonzero(temperature.scores >= standard.threshold)
    assert any(left <= a <= right for a in alarms for left, right in temperature.windows[2:])
