// Maintenance: each machine's health from live scoring (failure risk with its trend over the
// last hour, remaining useful life, anomaly scores, open alerts), the history of the selected
// machine's risk and remaining life, the plant's open alerts with their acknowledgement, and
// the model registry. Alerts arrive on the live stream as `alert` events (raised, escalated,
// cleared, acknowledged): the page says so at once and re-reads what it shows.

import { api, sendJson } from "./api.js";
import { drawTrend } from "./charts.js";
import { formatDateTime, formatPercent, humanize, isNumber } from "./format.js";
import { drawNote } from "./kpi_charts.js";
import { Refresher } from "./refresh.js";
import { hasRole, startShell } from "./shell.js";

const HOUR_MS = 3600000;
const REFRESH_GAP_MS = 10000;
const RISK_TAG = "ml_failure_risk"; // the tags live scoring writes back per machine
const RUL_TAG = "ml_rul";
const TREND_STEP = 0.05; // a change of risk smaller than this over the hour is "steady"
const TREND_POINTS = 360; // ten-second buckets: a trend shows after a minute of scores
const TREND_ARROWS = { rising: "▲", falling: "▼", steady: "▶" };
const KINDS = { failure_risk: "Failure risk", rul: "Remaining life", anomaly: "Anomaly" };

const $ = (id) => document.getElementById(id);

const view = {
  cells: [],
  selected: null,
  chosen: false, // the user clicked a machine: keep it
  hours: 24,
  dataNow: null,
  tags: new Map(),
  events: 0,
};
const refresher = new Refresher(refresh, REFRESH_GAP_MS);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function chip(value, attribute = "health") {
  const span = document.createElement("span");
  span.className = "status-chip";
  span.dataset[attribute] = value;
  span.textContent = humanize(value);
  const td = document.createElement("td");
  td.append(span);
  return td;
}

function short(asset) {
  return asset.split("/").slice(-2).join("/");
}

function highestAnomaly(health) {
  const scores = Object.entries(health.anomaly ?? {});
  if (scores.length === 0) return "—";
  const [tag, reading] = scores.sort((a, b) => b[1].value - a[1].value)[0];
  return `${reading.value.toFixed(2)} (${tag})`;
}

/** The tag ids of a machine's scores, asked once per machine (and again while missing). */
async function scoreTags(asset) {
  let found = view.tags.get(asset);
  if (!found || !found[RISK_TAG] || !found[RUL_TAG]) {
    found = {};
    for (const tag of await api.tags(asset)) {
      if (tag.asset === asset && (tag.name === RISK_TAG || tag.name === RUL_TAG)) {
        found[tag.name] = tag.id;
      }
    }
    view.tags.set(asset, found);
  }
  return found;
}

function values(series) {
  return (series.points ?? []).map((p) => p.value ?? p.avg).filter(isNumber);
}

function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Rising, falling or steady: the last third of the hour against its first third. */
function trendOf(xs) {
  if (xs.length < 2) return null;
  const third = Math.max(1, Math.floor(xs.length / 3));
  const change = mean(xs.slice(-third)) - mean(xs.slice(0, third));
  if (change > TREND_STEP) return "rising";
  if (change < -TREND_STEP) return "falling";
  return "steady";
}

function sparkline(xs) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "90");
  svg.setAttribute("height", "18");
  svg.setAttribute("viewBox", "0 0 90 18");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(ns, "polyline");
  const step = xs.length > 1 ? 88 / (xs.length - 1) : 0;
  line.setAttribute(
    "points",
    xs.map((x, i) => `${(1 + i * step).toFixed(1)},${(17 - 16 * Math.min(1, x)).toFixed(1)}`).join(" "),
  );
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}

async function riskHour(asset, health) {
  if (!health?.failure_risk) return null;
  const id = (await scoreTags(asset))[RISK_TAG];
  if (id === undefined) return null;
  const to = health.failure_risk.ts_ms + 1;
  return values(await api.seriesPoints(id, to - HOUR_MS, to, TREND_POINTS));
}

function trendCell(hour) {
  const td = document.createElement("td");
  const trend = hour ? trendOf(hour) : null;
  if (!trend) {
    td.textContent = "—";
    return td;
  }
  td.dataset.trend = trend;
  td.title = `failure risk ${trend} over the last hour`;
  const arrow = document.createElement("span");
  arrow.textContent = ` ${TREND_ARROWS[trend]} ${trend}`;
  td.append(sparkline(hour), arrow);
  return td;
}

function healthRow(asset, health, hour) {
  const tr = document.createElement("tr");
  tr.dataset.asset = asset;
  tr.classList.toggle("active", asset === view.selected);
  const risk = health?.failure_risk;
  const rul = health?.rul;
  const rulCell = cell(rul ? rul.value.toFixed(0) : "—", "num");
  rulCell.dataset.role = "rul";
  const riskCell = cell(risk ? formatPercent(risk.value) : "—", "num");
  riskCell.dataset.role = "risk";
  tr.append(
    cell(short(asset)),
    chip(health?.status ?? "unknown"),
    riskCell,
    trendCell(hour),
    rulCell,
    cell(health ? highestAnomaly(health) : "—"),
    cell(String(health?.open_alerts?.length ?? 0), "num"),
    cell(risk ? formatDateTime(risk.ts_ms) : "—"),
  );
  tr.addEventListener("click", () => {
    view.selected = asset;
    view.chosen = true;
    refresher.kick(true);
  });
  return tr;
}

async function acknowledge(alert, button) {
  button.disabled = true;
  try {
    await sendJson("POST", `/alerts/${encodeURIComponent(alert.id)}/ack`);
    refresher.kick(true);
  } catch (err) {
    button.disabled = false;
    $("maint-error").textContent = `Acknowledge failed: ${err.message}`;
    $("maint-error").hidden = false;
  }
}

function ackCell(alert) {
  const td = document.createElement("td");
  if (alert.acked_ms) {
    td.textContent = `${alert.acked_by} · ${formatDateTime(alert.acked_ms)}`;
    td.dataset.acked = "true";
  } else if (hasRole("operator")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Acknowledge";
    button.addEventListener("click", () => acknowledge(alert, button));
    td.append(button);
  } else {
    td.textContent = "not yet";
    td.title = "Acknowledging needs the operator role";
  }
  return td;
}

function alertRow(alert) {
  const tr = document.createElement("tr");
  tr.dataset.alert = alert.id;
  tr.append(
    cell(short(alert.asset)),
    cell(KINDS[alert.kind] ?? humanize(alert.kind)),
    cell(alert.tag),
    chip(alert.severity),
    cell(formatDateTime(alert.opened_ms)),
    cell(alert.value.toFixed(3), "num"),
    cell(alert.peak.toFixed(3), "num"),
    cell(alert.message),
    ackCell(alert),
  );
  return tr;
}

function modelRow(model) {
  const tr = document.createElement("tr");
  const metrics = Object.entries(model.metrics?.model ?? model.metrics ?? {})
    .filter(([, v]) => isNumber(v))
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(", ");
  tr.append(
    cell(model.name),
    cell(model.task),
    cell(String(model.version), "num"),
    cell(formatDateTime(model.created_ms)),
    cell(metrics || (model.data?.source === "history" ? "learned from the plant's history" : "—")),
  );
  return tr;
}

async function showHistory(from, to) {
  const asset = view.selected;
  $("risk-title").textContent = `Failure risk history · ${asset ?? "—"}`;
  $("rul-title").textContent = `Remaining useful life history · ${asset ?? "—"}`;
  const ids = asset ? await scoreTags(asset) : {};
  const width = Math.round($("risk-chart").clientWidth || 1000);
  const [risk, rul] = await Promise.all(
    [RISK_TAG, RUL_TAG].map((tag) =>
      ids[tag] === undefined ? null : api.seriesPoints(ids[tag], from, to, width),
    ),
  );
  if (risk) drawTrend($("risk-chart"), risk, from, to, asset);
  else drawNote($("risk-chart"), "No failure risk scored for this machine");
  if (rul) drawTrend($("rul-chart"), rul, from, to, asset);
  else drawNote($("rul-chart"), "No remaining useful life estimated for this machine");
}

async function refresh() {
  if (view.cells.length === 0 || !isNumber(view.dataNow)) return;
  const to = view.dataNow;
  const from = to - view.hours * HOUR_MS;
  try {
    const healths = await Promise.all(view.cells.map((c) => api.machineHealth(c).catch(() => null)));
    if (!view.chosen) {
      // Until the user picks one, show the first machine that models score.
      const scored = view.cells.find((c, i) => healths[i]?.failure_risk || healths[i]?.rul);
      if (scored) view.selected = scored;
    }
    const hours = await Promise.all(
      view.cells.map((c, i) => riskHour(c, healths[i]).catch(() => null)),
    );
    $("health-rows").replaceChildren(
      ...view.cells.map((c, i) => healthRow(c, healths[i], hours[i])),
    );
    const [open, models] = await Promise.all([api.alerts(true), api.models(), showHistory(from, to)]);
    $("alert-rows").replaceChildren(...open.map(alertRow));
    $("alerts-empty").hidden = open.length > 0;
    $("model-rows").replaceChildren(...models.map(modelRow));
    $("maint-error").hidden = true;
    document.body.dataset.scored = String(healths.filter((h) => h?.failure_risk).length);
    document.body.dataset.openAlerts = String(open.length);
  } catch (err) {
    $("maint-error").textContent = err.message;
    $("maint-error").hidden = false;
  }
}

/** An `alert` event of the live stream: say what happened, then show it. */
function onAlert({ event, alert }) {
  view.events += 1;
  document.body.dataset.alertEvents = String(view.events);
  const who = event === "acknowledged" ? ` by ${alert.acked_by}` : "";
  const feed = $("alert-feed");
  feed.textContent =
    `${formatDateTime(alert.updated_ms)} · ${short(alert.asset)}: ${alert.message} ` +
    `(${alert.severity}) ${event}${who}`;
  feed.dataset.event = event;
  refresher.kick(true);
}

function cellsOf(tree) {
  const found = [];
  const visit = (node) => {
    if (node.level === "cell") found.push(node.path);
    (node.children ?? []).forEach(visit);
  };
  tree.forEach(visit);
  return found;
}

function markHours() {
  for (const b of $("maint-hours").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.hours) === view.hours));
  }
}

async function start() {
  markHours();
  $("maint-hours").addEventListener("click", (e) => {
    const hours = Number(e.target.closest("button")?.dataset.hours);
    if (!hours) return;
    view.hours = hours;
    markHours();
    refresher.kick(true);
  });
  await startShell({
    page: "maintenance",
    onTick: (tick) => {
      view.dataNow = (tick.latest_ts ?? tick.now) + 1;
      refresher.kick();
    },
    events: { alert: onAlert },
  });
  view.cells = cellsOf(await api.assets());
  view.selected = view.cells[0] ?? null;
  refresher.kick(true);
}

start();
