// Maintenance: each machine's health from live scoring (failure risk, anomaly scores, open
// alerts), the failure risk's history, the open alerts of the plant and the model registry.
// Remaining useful life and acknowledging an alert join once the API offers them.

import { api } from "./api.js";
import { drawTrend } from "./charts.js";
import { formatDateTime, formatPercent, humanize, isNumber } from "./format.js";
import { drawNote } from "./kpi_charts.js";
import { Refresher } from "./refresh.js";
import { startShell } from "./shell.js";

const HOUR_MS = 3600000;
const REFRESH_GAP_MS = 10000;
const RISK_TAG = "ml_failure_risk"; // the tag live scoring writes back per machine

const $ = (id) => document.getElementById(id);

const view = { cells: [], selected: null, hours: 24, dataNow: null };
const refresher = new Refresher(refresh, REFRESH_GAP_MS);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function statusChip(status) {
  const chip = document.createElement("span");
  chip.className = "status-chip";
  chip.dataset.health = status;
  chip.textContent = humanize(status);
  const td = document.createElement("td");
  td.append(chip);
  return td;
}

function highestAnomaly(health) {
  const scores = Object.entries(health.anomaly ?? {});
  if (scores.length === 0) return "—";
  const [tag, reading] = scores.sort((a, b) => b[1].value - a[1].value)[0];
  return `${reading.value.toFixed(2)} (${tag})`;
}

function healthRow(asset, health) {
  const tr = document.createElement("tr");
  tr.dataset.asset = asset;
  tr.classList.toggle("active", asset === view.selected);
  const risk = health?.failure_risk;
  tr.append(
    cell(asset.split("/").slice(-2).join("/")),
    statusChip(health?.status ?? "unknown"),
    cell(risk ? formatPercent(risk.value) : "—", "num"),
    cell(health ? highestAnomaly(health) : "—"),
    cell(String(health?.open_alerts?.length ?? 0), "num"),
    cell(risk ? formatDateTime(risk.ts_ms) : "—"),
  );
  tr.addEventListener("click", () => {
    view.selected = asset;
    refresher.kick(true);
  });
  return tr;
}

function alertRow(alert) {
  const tr = document.createElement("tr");
  tr.append(
    cell(alert.asset.split("/").slice(-2).join("/")),
    cell(humanize(alert.kind)),
    cell(alert.tag),
    cell(alert.severity),
    cell(formatDateTime(alert.opened_ms)),
    cell(alert.value.toFixed(3), "num"),
    cell(alert.peak.toFixed(3), "num"),
    cell(alert.message),
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
    cell(metrics || "—"),
  );
  return tr;
}

async function showRisk(from, to) {
  const asset = view.selected;
  $("risk-title").textContent = `Failure risk history · ${asset ?? "—"}`;
  const tag = asset ? (await api.tags(asset)).find((t) => t.name === RISK_TAG) : null;
  if (!tag) return drawNote($("risk-chart"), "No failure risk scored for this machine");
  const width = Math.round($("risk-chart").clientWidth || 1000);
  return drawTrend($("risk-chart"), await api.seriesPoints(tag.id, from, to, width), from, to, asset);
}

async function refresh() {
  if (view.cells.length === 0 || !isNumber(view.dataNow)) return;
  const to = view.dataNow;
  const from = to - view.hours * HOUR_MS;
  try {
    const healths = await Promise.all(view.cells.map((c) => api.machineHealth(c).catch(() => null)));
    $("health-rows").replaceChildren(...view.cells.map((c, i) => healthRow(c, healths[i])));
    const [open, models] = await Promise.all([api.alerts(true), api.models(), showRisk(from, to)]);
    $("alert-rows").replaceChildren(...open.map(alertRow));
    $("alerts-empty").hidden = open.length > 0;
    $("model-rows").replaceChildren(...models.map(modelRow));
    $("maint-error").hidden = true;
    document.body.dataset.scored = String(healths.filter((h) => h?.failure_risk).length);
  } catch (err) {
    $("maint-error").textContent = err.message;
    $("maint-error").hidden = false;
  }
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
  });
  view.cells = cellsOf(await api.assets());
  view.selected = view.cells[0] ?? null;
  refresher.kick(true);
}

start();
