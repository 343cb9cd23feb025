// Plotly charts for the detail panel: the state timeline (a Gantt of state spans) and the
// trend of one tag (average line inside its min/max band).
//
// Plotly is the global from /static/plotly.min.js. Charts are redrawn with Plotly.react,
// which diffs against the previous figure, and `uirevision` keeps a user's zoom across
// refreshes until the machine or tag changes.

import { formatDuration, formatTime, humanize, isNumber } from "./format.js";
import { CATEGORY_FALLBACK_COLOURS, stateCategory } from "./states.js";

export const CONFIG = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
};

// A bucketed series with no bucket for this long has a hole: draw it as one, never as a
// straight line across an outage.
const GAP_BUCKETS = 2.5;
const DAY_MS = 86400000;
const SPARSE = 60; // fewer points than this get markers

export function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

/** The colour of a state category, from the stylesheet so tiles and charts always agree. */
export function categoryColour(category) {
  const fallback = CATEGORY_FALLBACK_COLOURS[category] ?? CATEGORY_FALLBACK_COLOURS.nodata;
  return cssVar(`--cat-${category}`, fallback);
}

/**
 * Epoch ms as a local wall-time string. Plotly shows date strings as written, so the axes
 * read in the plant's local time, like every other clock on the floor.
 */
export function plotTime(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${date} ${time}.${pad(d.getMilliseconds(), 3)}`;
}

// plotly.js (4.8 MB) loads `async`: the page asks the API while the browser still parses it,
// and every drawing waits for it here, in the order the drawings were asked for.
const plotlyLoaded = new Promise((resolve) => {
  if (window.Plotly) {
    resolve(window.Plotly);
    return;
  }
  const tag = document.querySelector('script[src$="plotly.min.js"]');
  if (!tag) {
    resolve(null);
    return;
  }
  tag.addEventListener("load", () => {
    performance.mark("andon:plotly-loaded"); // for benchmarks: page load = data + plotly
    resolve(window.Plotly ?? null);
  });
  tag.addEventListener("error", () => resolve(null));
});

/**
 * Draw `traces` into `el` once plotly.js is there; `count` (what the chart shows, for tests
 * and benchmarks) is set on the element when the drawing is done.
 */
export async function render(el, traces, layout, count) {
  const Plotly = await plotlyLoaded;
  if (!Plotly) {
    el.textContent = "Charts unavailable: plotly.js did not load.";
    return;
  }
  await Plotly.react(el, traces, layout, CONFIG);
  el.dataset.count = String(count);
}

export function baseLayout(from, to, uirevision) {
  const grid = cssVar("--grid", "#2d3643");
  return {
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: cssVar("--text", "#e6edf3"), size: 12 },
    margin: { l: 56, r: 16, t: 8, b: 32 },
    xaxis: {
      type: "date",
      range: [plotTime(from), plotTime(to)],
      // Within a day the date is on the header clock; longer windows need plotly's dates.
      tickformat: to - from <= DAY_MS ? "%H:%M" : undefined,
      gridcolor: grid,
      linecolor: grid,
    },
    yaxis: { gridcolor: grid, zeroline: false, automargin: true }, // room for "125.16k"
    hovermode: "closest",
    showlegend: false,
    uirevision,
  };
}

function messageAnnotation(text) {
  return {
    text,
    xref: "paper",
    yref: "paper",
    x: 0.5,
    y: 0.5,
    showarrow: false,
    font: { size: 14, color: cssVar("--muted", "#8b949e") },
  };
}

/** An empty chart on the window's axes carrying a message ("no data", an API error). */
export function drawMessage(el, text, from, to) {
  const layout = baseLayout(from, to, "message");
  layout.yaxis = { ...layout.yaxis, visible: false };
  layout.annotations = [messageAnnotation(text)];
  return render(el, [], layout, 0);
}

function spanRow(span, to) {
  const end = isNumber(span.end) ? span.end : to;
  return {
    row: span.row ?? "state",
    base: plotTime(span.start),
    x: end - span.start,
    text: [
      humanize(span.state),
      `${formatTime(span.start)} – ${formatTime(end)}`,
      formatDuration(end - span.start),
      span.reason ? `reason: ${humanize(span.reason)}` : "",
    ],
  };
}

/** One bar trace per state name, so the legend lists states and shares the tile colours. */
function timelineTraces(spans, to) {
  const byState = new Map();
  for (const span of spans) {
    const name = humanize(span.state);
    if (!byState.has(name)) {
      byState.set(name, { category: stateCategory(span.code, span.state), rows: [] });
    }
    byState.get(name).rows.push(spanRow(span, to));
  }
  return [...byState].map(([name, { category, rows }]) => ({
    type: "bar",
    orientation: "h",
    name,
    y: rows.map((r) => r.row),
    base: rows.map((r) => r.base),
    x: rows.map((r) => r.x),
    customdata: rows.map((r) => r.text),
    marker: { color: categoryColour(category), line: { width: 0 } },
    hovertemplate:
      "<b>%{customdata[0]}</b><br>%{customdata[1]} (%{customdata[2]})" +
      "<br>%{customdata[3]}<extra></extra>",
  }));
}

/** The state timeline of one machine: `spans` from /api/v1/states, clipped to [from, to]. */
export function drawTimeline(el, spans, from, to, uirevision) {
  if (spans.length === 0) {
    return drawMessage(el, "No state data in this window", from, to);
  }
  const layout = baseLayout(from, to, uirevision);
  layout.barmode = "overlay"; // spans never overlap; "group" would offset traces
  layout.bargap = 0.15;
  layout.yaxis = { ...layout.yaxis, visible: false, fixedrange: true };
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: -0.3, yanchor: "top", font: { size: 11 } };
  layout.margin = { ...layout.margin, l: 16, b: 64 };
  return render(el, timelineTraces(spans, to), layout, spans.length);
}

/** Insert a null point wherever buckets are missing, so lines break over outages. */
function withGaps(points, bucketMs) {
  const out = [];
  points.forEach((point, i) => {
    const previous = points[i - 1];
    if (previous && point.ts - previous.ts > GAP_BUCKETS * bucketMs) {
      out.push({ ts: previous.ts + bucketMs, avg: null, min: null, max: null, value: null });
    }
    out.push(point);
  });
  return out;
}

/** Split points into runs that have both a min and a max: the stretches a band covers. */
function bandSegments(points) {
  const segments = [[]];
  for (const point of points) {
    if (isNumber(point.min) && isNumber(point.max)) segments.at(-1).push(point);
    else if (segments.at(-1).length > 0) segments.push([]);
  }
  return segments.filter((segment) => segment.length > 0);
}

/**
 * The min/max band as closed outlines (max forwards, then min backwards), one per segment.
 * A fill between two traces ("tonexty") would bridge outages with a slanted wedge;
 * "toself" closes each null-separated segment on its own.
 */
function bandTrace(points) {
  const x = [];
  const y = [];
  for (const segment of bandSegments(points)) {
    if (x.length > 0) {
      x.push(null);
      y.push(null);
    }
    const back = [...segment].reverse();
    x.push(...segment.map((p) => plotTime(p.ts)), ...back.map((p) => plotTime(p.ts)));
    y.push(...segment.map((p) => p.max), ...back.map((p) => p.min));
  }
  return {
    type: "scatter",
    mode: "lines",
    name: "min–max",
    x,
    y,
    fill: "toself",
    fillcolor: cssVar("--trend-band", "rgba(88, 166, 255, 0.18)"),
    line: { width: 0 },
    hoverinfo: "skip",
    showlegend: false,
  };
}

function averageTrace(points, unit) {
  return {
    type: "scatter",
    mode: points.length < SPARSE ? "lines+markers" : "lines", // a lone value stays visible
    name: "avg",
    x: points.map((p) => plotTime(p.ts)),
    y: points.map((p) => p.avg ?? null),
    customdata: points.map((p) => [p.min ?? null, p.max ?? null, p.count ?? 0]),
    line: { color: cssVar("--trend-line", "#58a6ff"), width: 2 },
    hovertemplate:
      `%{x|%H:%M:%S}<br><b>%{y:.4~g} ${unit}</b>` +
      `<br>min %{customdata[0]:.4~g} · max %{customdata[1]:.4~g}<extra></extra>`,
  };
}

function bucketTraces(points, bucketS, unit) {
  const gapped = withGaps(points, bucketS * 1000);
  return [bandTrace(gapped), averageTrace(gapped, unit)];
}

function rawTrace(points, unit) {
  return [
    {
      type: "scatter",
      mode: "lines",
      name: "value",
      x: points.map((p) => plotTime(p.ts)),
      y: points.map((p) => p.value ?? null),
      line: { color: cssVar("--trend-line", "#58a6ff"), width: 2 },
      hovertemplate: `%{x|%H:%M:%S}<br><b>%{y:.4~g} ${unit}</b><extra></extra>`,
    },
  ];
}

/** The trend of one tag: `series` is the /api/v1/series response (bucketed or raw). */
export function drawTrend(el, series, from, to, uirevision) {
  const points = series.points ?? [];
  if (points.length === 0) {
    return drawMessage(el, "No values in this window", from, to);
  }
  const unit = series.tag?.unit ?? "";
  // The API omits null fields, so the response kind is told by bucket_s, not by the points.
  const traces = isNumber(series.bucket_s)
    ? bucketTraces(points, series.bucket_s, unit)
    : rawTrace(points, unit);
  const layout = baseLayout(from, to, uirevision);
  layout.hovermode = "x";
  layout.yaxis = { ...layout.yaxis, title: { text: unit } };
  return render(el, traces, layout, points.length);
}

/**
 * State timelines of several machines, one row each: `rows` is [{name, spans}], the spans
 * from /api/v1/states. Rows read top to bottom in the order given.
 */
export function drawGantt(el, rows, from, to, uirevision) {
  const spans = rows.flatMap((row) => row.spans.map((span) => ({ ...span, row: row.name })));
  if (spans.length === 0) {
    return drawMessage(el, "No state data in this window", from, to);
  }
  const layout = baseLayout(from, to, uirevision);
  layout.barmode = "overlay";
  layout.bargap = 0.2;
  const names = rows.map((row) => row.name).reverse();
  layout.yaxis = {
    ...layout.yaxis,
    type: "category",
    categoryorder: "array",
    categoryarray: names,
    fixedrange: true,
  };
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: -0.15, yanchor: "top", font: { size: 11 } };
  layout.margin = { ...layout.margin, b: 56 };
  return render(el, timelineTraces(spans, to), layout, spans.length);
}
