// Charts of the KPI pages: OEE trend with A/P/Q per period, the six-big-losses waterfall,
// Pareto bars with their cumulative share, and SPC control charts. Inputs are the answers of
// /api/v1/kpis, /downtime and /spc as they come; times are seconds, shown in hours or minutes.

import { cssVar, plotTime, render } from "./charts.js";
import { humanize, isNumber } from "./format.js";

function layout(extra = {}) {
  const grid = cssVar("--grid", "#2d3643");
  return {
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: cssVar("--text", "#e6edf3"), size: 12 },
    margin: { l: 56, r: 56, t: 8, b: 64 },
    xaxis: { gridcolor: grid, linecolor: grid, automargin: true },
    yaxis: { gridcolor: grid, zeroline: false, automargin: true },
    hovermode: "closest",
    showlegend: false,
    ...extra,
  };
}

const DENSE = 60; // periods from which the trend's lines go without markers

const pct = (ratio) => (isNumber(ratio) ? ratio * 100 : null);

/** An empty chart with a message and no axes (these charts have no time axis to keep). */
export function drawNote(el, text) {
  const look = layout({
    xaxis: { visible: false },
    yaxis: { visible: false },
    annotations: [
      {
        text,
        xref: "paper",
        yref: "paper",
        x: 0.5,
        y: 0.5,
        showarrow: false,
        font: { size: 14, color: cssVar("--muted", "#8b949e") },
      },
    ],
  });
  return render(el, [], look, 0);
}

/** A short label for a period: "2025-11-21T14" -> "21 14h", shift labels as they are. */
function periodLabel(period) {
  const label = String(period.label ?? "");
  const hour = label.match(/^\d{4}-(\d{2})-(\d{2})T(\d{2})/);
  return hour ? `${hour[2]}/${hour[1]} ${hour[3]}h` : label;
}

/** OEE per period as bars, availability, performance and quality as lines (percent). */
export function drawKpiTrend(el, periods) {
  if (periods.length === 0) return drawNote(el, "No periods in this window");
  const x = periods.map(periodLabel);
  // A week per hour is 168 periods: three lines of markers would be 500 more SVG nodes to
  // draw on every load, and the lines read the same without them.
  const mode = periods.length < DENSE ? "lines+markers" : "lines";
  const line = (name, key, colour, dash) => ({
    type: "scatter",
    mode,
    name,
    x,
    y: periods.map((p) => pct(p[key])),
    line: { color: colour, width: 2, dash },
    marker: { size: 5 },
    hovertemplate: `${name} %{y:.1f}%<extra></extra>`,
  });
  const traces = [
    {
      type: "bar",
      name: "OEE",
      x,
      y: periods.map((p) => pct(p.oee)),
      marker: { color: cssVar("--trend-line", "#58a6ff"), opacity: 0.75 },
      hovertemplate: "%{x}<br><b>OEE %{y:.1f}%</b><extra></extra>",
    },
    line("Availability", "availability", cssVar("--cat-run", "#22a652")),
    line("Performance", "performance", cssVar("--cat-attn", "#f0a800"), "dot"),
    line("Quality", "quality", cssVar("--cat-setup", "#8e5bd8"), "dash"),
  ];
  const look = layout({ showlegend: true, hovermode: "x unified" });
  look.yaxis = { ...look.yaxis, title: { text: "%" }, rangemode: "tozero" };
  look.legend = { orientation: "h", x: 0, y: 1.12 };
  look.margin = { ...look.margin, t: 24 };
  return render(el, traces, look, periods.length);
}

const LOSS_LABELS = {
  planned_downtime: "Planned downtime",
  no_data: "No data",
  breakdowns: "Breakdowns",
  setup_adjustments: "Setup & adjustments",
  other_stops: "Other stops",
  minor_stops: "Minor stops",
  speed_loss: "Speed loss",
  quality_loss: "Quality loss",
  fully_productive: "Fully productive",
};

/** The six big losses from the planned operation time down to fully productive time (h). */
export function drawWaterfall(el, total) {
  const bars = (total.waterfall ?? []).filter((b) => b.loss !== "fully_productive");
  const productive = (total.waterfall ?? []).find((b) => b.loss === "fully_productive");
  if (!isNumber(total.pot_s) || total.pot_s === 0) {
    return drawNote(el, "No planned time in this window");
  }
  const hours = (s) => (isNumber(s) ? s / 3600 : 0);
  const known = bars.filter((b) => isNumber(b.seconds));
  const x = ["Planned operation", ...known.map((b) => LOSS_LABELS[b.loss] ?? humanize(b.loss))];
  const y = [hours(total.pot_s), ...known.map((b) => -hours(b.seconds))];
  const measure = ["absolute", ...known.map(() => "relative")];
  x.push(isNumber(productive?.seconds) ? "Fully productive" : "Remaining");
  y.push(0);
  measure.push("total");
  const trace = {
    type: "waterfall",
    x,
    y,
    measure,
    connector: { line: { color: cssVar("--grid", "#2d3643") } },
    increasing: { marker: { color: cssVar("--trend-line", "#58a6ff") } },
    decreasing: { marker: { color: cssVar("--cat-down", "#e0342f") } },
    totals: { marker: { color: cssVar("--cat-run", "#22a652") } },
    hovertemplate: "%{x}<br><b>%{y:.2f} h</b><extra></extra>",
  };
  const look = layout();
  look.yaxis = { ...look.yaxis, title: { text: "hours" } };
  look.xaxis = { ...look.xaxis, tickangle: -30 };
  return render(el, [trace], look, known.length);
}

/**
 * Pareto bars (largest first) with the cumulative share on a second axis; with
 * `cumulative: false`, plain bars in the order given (e.g. periods in time order).
 * @param {{label: string, value: number, count?: number}[]} rows
 * @param {string} unit  e.g. "min" or "parts"
 */
export function drawPareto(
  el,
  rows,
  unit,
  message = "Nothing to show in this window",
  { cumulative = true } = {},
) {
  if (rows.length === 0) return drawNote(el, message);
  const total = rows.reduce((sum, row) => sum + row.value, 0);
  let running = 0;
  const shares = rows.map((row) => {
    running += row.value;
    return total > 0 ? (100 * running) / total : 0;
  });
  const x = rows.map((row) => row.label);
  const bars = [
    {
      type: "bar",
      x,
      y: rows.map((row) => row.value),
      customdata: rows.map((row) => row.count ?? ""),
      marker: { color: cssVar("--cat-down", "#e0342f") },
      hovertemplate: `%{x}<br><b>%{y:.1f} ${unit}</b><br>%{customdata} events<extra></extra>`,
    },
  ];
  const share = [
    {
      type: "scatter",
      mode: "lines+markers",
      x,
      y: shares,
      yaxis: "y2",
      line: { color: cssVar("--muted", "#8b949e"), width: 1.5 },
      hovertemplate: "cumulative %{y:.0f}%<extra></extra>",
    },
  ];
  const look = layout();
  look.yaxis = { ...look.yaxis, title: { text: unit } };
  if (cumulative) {
    look.yaxis2 = { overlaying: "y", side: "right", range: [0, 105], showgrid: false, ticksuffix: "%" };
  }
  // Labels are names (or period labels that look like dates): categories, in the order given.
  look.xaxis = { ...look.xaxis, tickangle: -30, type: "category" };
  return render(el, cumulative ? [...bars, ...share] : bars, look, rows.length);
}

function limitLine(name, values, x, colour, dash) {
  if (values === null || values === undefined) return null;
  const y = Array.isArray(values) ? values : x.map(() => values);
  return {
    type: "scatter",
    mode: "lines",
    name,
    x,
    y,
    line: { color: colour, width: 1.5, dash, shape: "hv" },
    hovertemplate: `${name} %{y:.4~g}<extra></extra>`,
  };
}

/**
 * A control chart from /api/v1/spc: the first series' points with its centre line and
 * control limits, and each rule violation marked with its Nelson (or WE) rule number.
 */
export function drawControlChart(el, chart) {
  const series = chart.series?.[0];
  const values = series?.values ?? [];
  if (values.length === 0) return drawNote(el, "No points in this window");
  const x = chart.ts_ms?.length === values.length ? chart.ts_ms.map(plotTime) : values.map((_, i) => i);
  const violations = (chart.violations ?? []).filter((v) => v.series === series.name);
  const traces = [
    {
      type: "scatter",
      mode: "lines+markers",
      name: series.name,
      x,
      y: values,
      line: { color: cssVar("--trend-line", "#58a6ff"), width: 1.5 },
      marker: { size: 4 },
      hovertemplate: `${series.name} %{y:.4~g}<extra></extra>`,
    },
    limitLine("centre", series.center, x, cssVar("--muted", "#8b949e"), "dash"),
    limitLine("UCL", series.ucl, x, cssVar("--cat-down", "#e0342f"), "dot"),
    limitLine("LCL", series.lcl, x, cssVar("--cat-down", "#e0342f"), "dot"),
    {
      type: "scatter",
      mode: "markers",
      name: "violations",
      x: violations.map((v) => x[v.index]),
      y: violations.map((v) => v.value),
      text: violations.map((v) => `rule ${v.rule}: ${v.text}`),
      marker: { color: cssVar("--cat-down", "#e0342f"), size: 10, symbol: "circle-open", line: { width: 2 } },
      hovertemplate: "%{text}<extra></extra>",
    },
  ].filter(Boolean);
  const look = layout({ showlegend: true, hovermode: "closest" });
  look.legend = { orientation: "h", x: 0, y: 1.12 };
  look.margin = { ...look.margin, t: 24 };
  if (chart.ts_ms) look.xaxis = { ...look.xaxis, type: "date" };
  el.dataset.violations = String(violations.length);
  return render(el, traces, look, values.length);
}
