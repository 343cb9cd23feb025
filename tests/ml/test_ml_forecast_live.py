"""The live next-shift forecast: LightGBM races the seasonal profiles on a holdout week."""

from __future__ import annotations

import numpy as np
import pytest

from andon.historian import DuckDBHistorian
from andon.historian.protocol import WriteBatch
from andon.ml.forecast import next_shift
from andon.ml.forecast.live import _backtest, _forecast, _profile, _profiles
from andon.ml.forecast.shift_gbm import GBM_MIN_HOURS, HOLDOUT_HOURS, cache, shift_gbm
from andon.signals import Sample, StateChange

HOUR = 3_600_000
DAY = 24 * HOUR
SATURDAY = 2 * DAY  # 1970-01-03
GBM = "gradient boosting (LightGBM) on lags and the calendar"
WEEK = "same hour of the week, last 4 weeks"


def _regimes(days: int, seed: int) -> np.ndarray:
    """kWh per hour: a day/night shape times a level that switches every 1.5-4 days.

    The profiles average over days of both levels (or, the recent level, miss the shape);
    the recent lags reveal the level and the calendar the shape. A 10 h gap has no data.
    """
    rng = np.random.default_rng(seed)
    level, high = np.empty(0), False
    while len(level) < days * 24:
        high = not high
        level = np.r_[level, np.full(int(rng.integers(36, 96)), 3.0 if high else 1.0)]
    shape = np.tile(np.r_[np.full(6, 0.4), np.full(12, 1.0), np.full(6, 0.6)], days)
    x = 30 * level[: days * 24] * shape + rng.normal(0, 3, days * 24)
    x[5 * 24 : 5 * 24 + 10] = np.nan
    return x


def test_gbm_wins_where_the_lags_reveal_the_regime() -> None:
    x = _regimes(28, seed=1)
    start = SATURDAY + 29 * DAY
    shift = _forecast(x, 1, 8, 0.8, None, ("energy", "kWh"), start, line="regimes")
    assert shift.method == GBM
    assert shift.interval == f"split conformal on {shift.backtest_windows} past windows"
    learned = shift_gbm(x, 1, 8, start, ("regimes", "energy"))  # the race's fits, cached
    assert learned.final is not None  # refit on every hour for the forecast
    holdout = sorted(learned.holdout)
    assert holdout[0] >= len(x) - HOLDOUT_HOURS
    assert shift.backtest_windows == len(holdout)
    gbm_mae = np.mean(np.abs([learned.holdout[o] for o in holdout]))
    profiles, naive = _backtest(x, 1, 8)
    for method, errors in profiles.items():  # on the same origins, each profile does worse
        assert set(holdout) <= set(errors)
        assert gbm_mae < 0.8 * np.mean(np.abs([errors[o] for o in holdout])), method
    assert shift.naive_mae == pytest.approx(np.mean(np.abs([naive[o] for o in holdout])), 1e-3)
    assert shift.backtest_mae == pytest.approx(gbm_mae, abs=1e-3)
    assert 0 <= shift.lower <= shift.forecast <= shift.upper


def test_profiles_win_a_weekly_pattern_lightgbm_has_seen_once() -> None:
    """Two weeks from a Saturday: LightGBM learns from six days and never saw a Saturday."""
    rng = np.random.default_rng(0)
    day = np.r_[np.full(6, 20.0), np.full(16, 100.0), np.full(2, 20.0)]
    week = np.r_[np.full(48, 15.0), np.tile(day, 5)]  # quiet weekend, then five days
    x = np.maximum(np.tile(week, 3)[: 15 * 24] + rng.normal(0, 8, 15 * 24), 0.0)
    assert np.isfinite(x).sum() >= GBM_MIN_HOURS
    start = SATURDAY + 15 * DAY
    shift = _forecast(x, 0, 8, 0.8, None, ("energy", "kWh"), start, line="weekly")
    assert shift.method == WEEK
    learned = shift_gbm(x, 0, 8, start, ("weekly", "energy"))
    assert learned.final is None  # lost the race: never refit
    profiles, _ = _backtest(x, 0, 8)
    holdout = sorted(learned.holdout)
    assert len(holdout) > 100
    week = np.mean(np.abs([profiles["week"][o] for o in holdout]))
    assert week < np.mean(np.abs([learned.holdout[o] for o in holdout]))
    alone = _forecast(x, 0, 8, 0.8, None, ("energy", "kWh"), start, gbm=False)
    assert alone == shift  # the profile's forecast, interval and whole backtest, as without it


def test_short_history_keeps_to_the_profiles() -> None:
    x = _regimes(10, seed=2)
    fits = cache.fits
    shift = _forecast(x, 0, 8, 0.8, None, ("energy", "kWh"), 0, line="short")
    assert shift.method != GBM
    assert shift.backtest_windows > 100  # the profiles' whole backtest
    assert cache.fits == fits


def test_next_shift_fits_once_per_line_and_hour() -> None:
    db = DuckDBHistorian(":memory:")
    machine = "acme/plant1/forming/line9/press1"
    db.define_tags([(machine, "power", "kW")])
    kwh = np.nan_to_num(_regimes(21, seed=3), nan=1.0)
    samples = [
        Sample(machine, "power", SATURDAY + i * HOUR + q * 900_000, float(v))
        for i, v in enumerate(kwh)
        for q in range(4)
    ]
    states = [StateChange(machine, SATURDAY, 10000)]
    states += [StateChange(machine, SATURDAY + d * DAY + 7 * HOUR, 180000) for d in range(21)]
    states += [StateChange(machine, SATURDAY + d * DAY + 8 * HOUR, 10000) for d in range(21)]
    db.write(WriteBatch([], samples, sorted(states, key=lambda s: s.ts_ms), [], []))
    now = SATURDAY + 21 * DAY + 5 * 60_000

    def forecast(gbm: bool = True) -> tuple[str, str]:
        result = next_shift(
            db, "acme/plant1/forming/line9", now, is_downtime=lambda c: c >= 30000, gbm=gbm
        )
        assert result.energy is not None
        return result.energy.method, result.downtime.method

    first = forecast()
    fits = cache.fits
    assert forecast() == first
    assert cache.fits == fits  # the same line, hour and history: no LightGBM fit
    assert first[0] == GBM
    assert GBM not in forecast(gbm=False)
    db.close()


@pytest.mark.parametrize(("gap", "hours"), [(0, 8), (3, 8), (30, 12)])
def test_the_backtest_forecasts_each_origin_as_the_forecast_does(gap: int, hours: int) -> None:
    rng = np.random.default_rng(5)
    x = rng.gamma(2.0, 10.0, 400)
    x[rng.random(400) < 0.1] = np.nan
    x[40:90] = np.nan
    origins = np.arange(0, 400 - gap - hours, 7, dtype=np.intp)
    for method, count in (("level", 0), ("day", 0), ("week", 0), ("day", 1)):
        rows = _profiles(x, origins, method, gap, hours, count)
        each = [_profile(x, int(o), method, gap, hours, count) for o in origins]
        np.testing.assert_allclose(rows, np.array(each), equal_nan=True)
