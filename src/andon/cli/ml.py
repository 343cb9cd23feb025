"""``andon ml``: train, predict, evaluate and list models on your own CSV/Parquet data,
and score any tag for anomalies.

::

    andon ml train failure --data F --target COL [--drop COL,...] [--group COL] --out DIR
    andon ml train rul --data F --unit COL --time COL [--rul COL] [--cap 125] --out DIR
    andon ml train defects --data F --target COL [--drop COL,...] [--param positive=V] --out DIR
    andon ml train forecast --data F --time COL --target COL --horizon 96 --out DIR
    andon ml train rootcause --data F --target COL [--drop COL,...] --out DIR
    andon ml train vision --data DIR --out DIR        # DIR: one sub-folder of images a class
    andon ml predict DIR --data F --out F.csv
    andon ml evaluate DIR --data F [--json] [--report F.html] [--start TIME]
    andon ml detect --data F --time COL --value COL[,COL...] [--out F.csv]
    andon ml models [--root data/models] [--json]
    andon ml rootcause --db plant.duckdb --kpi scrap_ratio [--from T] [--to T] [--asset PATH]

Tasks come from :data:`andon.ml.catalog.TASKS`; a new task needs no change here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from andon.errors import AndonError, InvalidRequest
from andon.ml import anomaly, registry
from andon.ml.catalog import TASKS, task_for
from andon.ml.report import write_report
from andon.ml.tables import read_table, split_names
from andon.ml.tasks import EvaluateOptions, TrainOptions

__all__ = ["app", "parse_params"]

app = typer.Typer(
    help="Manufacturing AI: failure risk, remaining useful life, anomalies, the model registry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_console = Console()
_err = Console(stderr=True)
_JSON = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``--param key=value`` options; values are read as JSON when they parse as such.

    >>> parse_params(["n_estimators=50", "model=logistic", "windows=[5,10]"])
    {'n_estimators': 50, 'model': 'logistic', 'windows': (5, 10)}
    """
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"--param {pair!r}: use key=value")
        try:
            params[key.strip()] = orjson.loads(text)
        except orjson.JSONDecodeError:
            params[key.strip()] = text
    if isinstance(params.get("windows"), list):
        params["windows"] = tuple(params["windows"])
    return params


def _guarded(action: Callable[[], None]) -> None:
    try:
        action()
    except AndonError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in {".parquet", ".pq"}:
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


@app.command()
def train(
    task: Annotated[str, typer.Argument(help=f"what to learn: {', '.join(sorted(TASKS))}")],
    data: Annotated[
        Path, typer.Option(help="CSV or Parquet file (vision: a folder, one sub-folder a class)")
    ],
    out: Annotated[Path, typer.Option(help="model directory (a new version is added)")],
    target: Annotated[
        str | None, typer.Option(help="failure, defects, forecast, rootcause: the target column")
    ] = None,
    drop: Annotated[str | None, typer.Option(help="columns to leave out, comma-separated")] = None,
    group: Annotated[
        str | None, typer.Option(help="failure: split by this column (machine, tool) not by row")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="rul: the unit (engine, machine) column")] = None,
    time_column: Annotated[
        str | None, typer.Option("--time", help="rul, forecast: the time/cycle column")
    ] = None,
    rul: Annotated[
        str | None, typer.Option(help="rul: the RUL column; default max time - time per unit")
    ] = None,
    cap: Annotated[float, typer.Option(help="rul: the piecewise-linear target's cap")] = 125.0,
    horizon: Annotated[
        int | None, typer.Option(help="forecast: steps ahead to forecast (96 = a day of 15 min)")
    ] = None,
    folds: Annotated[int, typer.Option(help="held-out folds for the reported metrics")] = 5,
    seed: Annotated[int, typer.Option(help="random seed of splits and models")] = 0,
    param: Annotated[
        list[str] | None, typer.Option(help="model parameter key=value (repeatable)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the model card as JSON")] = False,
) -> None:
    """Train a model with honest held-out metrics and store it in the registry."""

    def _train() -> None:
        chosen = task_for(task)
        options = TrainOptions(
            target=target,
            drop=tuple(split_names(drop)),
            group=group,
            unit=unit,
            time=time_column,
            rul=rul,
            cap=cap,
            horizon=horizon,
            folds=folds,
            seed=seed,
            params=parse_params(param),
        )
        frame = chosen.read(data)
        started = time.perf_counter()
        trained = chosen.train(frame, options)
        card = registry.save_model(out, trained.model, trained.card)
        if as_json:
            _console.print_json(orjson.dumps(card.to_dict(), option=_JSON).decode())
            return
        _console.print(_card_table(card))
        _console.print(
            f"trained {task} on {len(frame):,} rows in {time.perf_counter() - started:.0f} s; "
            f"saved {card.path}"
        )

    _guarded(_train)


@app.command()
def predict(
    model_dir: Annotated[Path, typer.Argument(help="model directory (or one of its versions)")],
    data: Annotated[Path, typer.Option(help="CSV or Parquet file")],
    out: Annotated[Path, typer.Option(help="CSV or Parquet file to write")],
) -> None:
    """Write the input columns plus the prediction (and probability, for classifiers)."""

    def _predict() -> None:
        model, card = registry.load_model(model_dir)
        chosen = task_for(card.task)
        result = chosen.predict(model, card, chosen.read(data))
        _write_table(result, out)
        _console.print(f"{len(result):,} predictions ({card.task} v{card.version}) -> {out}")

    _guarded(_predict)


@app.command()
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="model directory (or one of its versions)")],
    data: Annotated[Path, typer.Option(help="labelled CSV or Parquet file")],
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
    report: Annotated[
        Path | None, typer.Option(help="write an HTML report (metrics, plots, importances)")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="forecast: backtest with rolling origins from this time on")
    ] = None,
) -> None:
    """Metrics of a trained model on labelled data it has not seen."""

    def _evaluate() -> None:
        model, card = registry.load_model(model_dir)
        chosen = task_for(card.task)
        result = chosen.evaluate(model, card, chosen.read(data), EvaluateOptions(start=start))
        if report is not None:
            write_report(result, card, report)
        if as_json:
            _console.print_json(orjson.dumps(result.metrics, option=_JSON).decode())
        else:
            _console.print(_metrics_table(f"{card.name} v{card.version} on {data}", result.metrics))
            if report is not None:
                _console.print(f"report -> {report}")

    _guarded(_evaluate)


@app.command()
def detect(
    data: Annotated[Path, typer.Option(help="CSV or Parquet file")],
    time_column: Annotated[str, typer.Option("--time", help="the timestamp column")],
    value: Annotated[str, typer.Option(help="column(s) to watch, comma-separated")],
    out: Annotated[Path | None, typer.Option(help="CSV or Parquet file to write")] = None,
    detector: Annotated[
        str, typer.Option(help=f"detector: {', '.join(anomaly.DETECTORS)}")
    ] = "discord",
    threshold: Annotated[
        float | None, typer.Option(help="score from which a row is an anomaly")
    ] = None,
    probation: Annotated[
        int | None, typer.Option(help="rows to learn from first (default 15 %, at most 750)")
    ] = None,
) -> None:
    """Score every row for anomalies as a stream (each row judged by the rows before it)."""

    def _detect() -> None:
        frame = read_table(data)
        scored = anomaly.detect_frame(
            frame,
            time_column,
            split_names(value),
            detector=detector,
            probation=probation,
            threshold=threshold,
        )
        if out is not None:
            _write_table(scored, out)
        flagged = scored[scored["anomaly"] == 1]
        _console.print(f"{len(scored):,} rows scored, {len(flagged)} anomalies")
        for _, row in flagged.head(20).iterrows():
            _console.print(f"  {row[time_column]}  score {row['score']:.4f}")
        if out is not None:
            _console.print(f"scores -> {out}")

    _guarded(_detect)


@app.command()
def models(
    root: Annotated[Path, typer.Option(help="registry directory")] = registry.DEFAULT_ROOT,
    as_json: Annotated[bool, typer.Option("--json", help="print the cards as JSON")] = False,
) -> None:
    """List the trained models (newest version of each)."""

    def _models() -> None:
        cards = registry.list_models(root)
        if as_json:
            payload = [card.to_dict() for card in cards]
            _console.print_json(orjson.dumps(payload, option=_JSON).decode())
            return
        table = Table(title=f"models in {root}")
        for column in ("name", "version", "task", "headline", "rows", "split", "path"):
            table.add_column(column)
        for card in cards:
            table.add_row(
                card.name,
                str(card.version),
                card.task,
                headline(card),
                str(card.data.get("rows", "")),
                str(card.split.get("kind", "")),
                card.path,
            )
        _console.print(table)

    _guarded(_models)


def headline(card: registry.ModelCard) -> str:
    """The one metric that sums a model up, from its held-out evaluation."""
    cv = card.metrics.get("cv", {})
    if "f1" in cv:
        return f"F1 {cv['f1']}"
    if "accuracy" in cv and card.task == "vision":
        return f"accuracy {cv['accuracy']}"
    if "macro_f1" in cv:
        return f"macro F1 {cv['macro_f1']}"
    if "at_cut" in cv:
        return f"RMSE {cv['at_cut']['rmse']}"
    return ""


def _card_table(card: registry.ModelCard) -> Table:
    table = Table(title=f"{card.task} model {card.name} v{card.version} ({card.split.get('kind')})")
    table.add_column("metric")
    table.add_column("model (held out)")
    table.add_column("baseline")
    model, base = card.metrics.get("cv", {}), card.metrics.get("baseline", {})
    for key, value in _flat(model).items():
        table.add_row(key, str(value), str(_flat(base).get(key, "")))
    return table


def _metrics_table(title: str, metrics: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    for key, value in _flat(metrics).items():
        table.add_row(key, str(value))
    return table


def _flat(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@app.command(name="rootcause")
def rootcause_command(
    db: Annotated[str, typer.Option(help="historian: DuckDB file or PostgreSQL URL")],
    kpi: Annotated[
        str, typer.Option(help="scrap_ratio, oee or energy_per_part (hourly, per machine)")
    ] = "scrap_ratio",
    start: Annotated[
        str | None, typer.Option("--from", help="ISO-8601 or epoch ms; default --to - 7 days")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="ISO-8601 or epoch ms; default the newest data")
    ] = None,
    asset: Annotated[
        str | None, typer.Option(help="a machine, line or area; default the whole plant")
    ] = None,
    drop: Annotated[
        str | None, typer.Option(help="factors to leave out, comma-separated (power_kw, ...)")
    ] = None,
    folds: Annotated[int, typer.Option(help="time-blocked held-out folds")] = 5,
    seed: Annotated[int, typer.Option(help="random seed of the noise controls and models")] = 0,
    table: Annotated[
        Path | None, typer.Option(help="also write the factor table (CSV or Parquet)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the ranking as JSON")] = False,
) -> None:
    """Rank what explains a KPI in the plant's own history (tags, ambient, shift, product)."""
    from andon.api.rootcause import analyse
    from andon.historian import open_historian
    from andon.ml.rootcause import RankOptions
    from andon.signals import parse_ts

    def _rootcause() -> None:
        historian = open_historian(db, read_only=True)
        try:
            try:
                latest = historian.latest_ts() or 0
                end_ms = parse_ts(end) if end else latest + 1
                start_ms = parse_ts(start) if start else end_ms - 7 * 86_400_000
            except ValueError as exc:
                raise InvalidRequest(f"--from/--to: {exc}") from exc
            options = RankOptions(folds=folds, seed=seed)
            dropped = split_names(drop)
            frame, ranking = analyse(historian, kpi, start_ms, end_ms, asset, options, dropped)
        finally:
            historian.close()
        if table is not None:
            _write_table(frame, table)
        if as_json:
            _console.print_json(orjson.dumps(ranking.to_dict(), option=_JSON).decode())
            return
        view = Table(title=f"what explains {kpi} ({ranking.rows} machine-hours)")
        for column in ("rank", "factor", "importance [95 % CI]", "significant", "direction"):
            view.add_column(column)
        for f in ranking.factors:
            interval = f"{f.importance:.4f} [{f.ci_low:.4f}, {f.ci_high:.4f}]"
            shape = f"{f.direction} (higher at {f.raises_at})" if f.raises_at else f.direction
            view.add_row(str(f.rank), f.name, interval, "yes" if f.significant else "no", shape)
        _console.print(view)
        _console.print(
            f"held-out R² {ranking.r2} (baseline {ranking.baseline_r2}), linear R² "
            f"{ranking.linear_r2}, noise level {ranking.noise_level}"
        )

    _guarded(_rootcause)
