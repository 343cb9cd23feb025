"""The evaluation report: one self-contained HTML file (plotly.js inlined, no CDN).

Metrics, then a confusion matrix and a calibration curve for classifiers, or predicted
against true values and the residuals for regressors, then feature importances.

>>> from andon.ml.tasks import Evaluation
>>> result = Evaluation("failure", {"f1": 0.9}, np.array([0, 1, 1]), np.array([0, 1, 0]),
...                     np.array([0.1, 0.8, 0.4]), {"power_w": 0.5})
>>> [fig.layout.title.text for fig in figures(result)]
['Confusion matrix', 'Calibration', 'Feature importance']
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from andon.ml.registry import ModelCard
from andon.ml.tasks import Evaluation

__all__ = ["figures", "write_report"]

_TOP_FEATURES = 20


def figures(result: Evaluation) -> list[go.Figure]:
    """The plots of a report, in page order."""
    out: list[go.Figure] = []
    if result.task == "rul" or np.issubdtype(np.asarray(result.prediction).dtype, np.floating):
        out += [_predicted_vs_true(result), _residuals(result)]
    else:
        out.append(_confusion(result))
        if result.probability is not None:
            out.append(_calibration(result))
    if result.importances:
        out.append(_importances(result.importances))
    return out


def _confusion(result: Evaluation) -> go.Figure:
    labels = [str(v) for v in np.unique(np.r_[result.truth, result.prediction])]
    truth, pred = result.truth.astype(str), result.prediction.astype(str)
    counts = [[int(np.sum((truth == t) & (pred == p))) for p in labels] for t in labels]
    figure = go.Figure(
        go.Heatmap(z=counts, x=labels, y=labels, text=counts, texttemplate="%{text}")
    )
    figure.update_layout(title="Confusion matrix", xaxis_title="predicted", yaxis_title="true")
    return figure


def _calibration(result: Evaluation, bins: int = 10) -> go.Figure:
    assert result.probability is not None
    proba = result.probability
    positive = result.truth.astype(str) == str(np.max(result.truth))
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(proba, edges) - 1, 0, bins - 1)
    mean_p, observed, sizes = [], [], []
    for b in range(bins):
        inside = which == b
        if inside.any():
            mean_p.append(float(proba[inside].mean()))
            observed.append(float(positive[inside].mean()))
            sizes.append(int(inside.sum()))
    figure = go.Figure(
        [
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"}),
            go.Scatter(x=mean_p, y=observed, mode="lines+markers", name="model", text=sizes),
        ]
    )
    figure.update_layout(
        title="Calibration", xaxis_title="predicted probability", yaxis_title="observed frequency"
    )
    return figure


def _predicted_vs_true(result: Evaluation) -> go.Figure:
    top = float(max(np.max(result.truth), np.max(result.prediction)))
    figure = go.Figure(
        [
            go.Scatter(x=result.truth, y=result.prediction, mode="markers", name="units"),
            go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect", line={"dash": "dot"}),
        ]
    )
    figure.update_layout(
        title="Predicted against true", xaxis_title="true", yaxis_title="predicted"
    )
    return figure


def _residuals(result: Evaluation) -> go.Figure:
    residual = np.asarray(result.prediction, dtype=float) - np.asarray(result.truth, dtype=float)
    figure = go.Figure(go.Scatter(x=result.truth, y=residual, mode="markers"))
    figure.update_layout(
        title="Residuals (predicted - true)", xaxis_title="true", yaxis_title="residual"
    )
    return figure


def _importances(importances: dict[str, float]) -> go.Figure:
    top = list(importances.items())[:_TOP_FEATURES][::-1]
    figure = go.Figure(go.Bar(x=[v for _, v in top], y=[k for k, _ in top], orientation="h"))
    figure.update_layout(title="Feature importance", height=max(300, 22 * len(top) + 100))
    return figure


def write_report(result: Evaluation, card: ModelCard, path: Path) -> None:
    """Write the report of ``result`` (a model described by ``card``) to ``path``."""
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in _flat(result.metrics).items()
    )
    plots = "".join(f.to_html(full_html=False, include_plotlyjs=False) for f in figures(result))
    title = html.escape(f"{card.task} model {card.name} v{card.version}")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title><script>{get_plotlyjs()}</script>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 12px}</style>"
        f"</head><body><h1>{title}</h1>"
        f"<p>split: {html.escape(str(card.split))}<br>"
        f"trained on: {html.escape(str(card.data.get('rows')))} rows, "
        f"sha256 {html.escape(str(card.data.get('sha256', ''))[:16])}</p>"
        f"<h2>Metrics</h2><table>{rows}</table>{plots}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


def _flat(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
