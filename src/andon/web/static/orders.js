// The order book: every order with its plan, status and progress from the machine counts
// (good parts against the planned quantity, with a marker where the plan says it should be
// by now). Operators import orders from the machines' order_start/order_end events. Below,
// the next shift's downtime and energy forecast of each line (/forecast/next-shift), read
// again every few minutes: a forecast does not change with every tick.

import { api } from "./api.js";
import { formatCount, formatDateTime, humanize, isNumber } from "./format.js";
import { Refresher } from "./refresh.js";
import { hasRole, startShell } from "./shell.js";

const REFRESH_GAP_MS = 5000;
const DETAILED = 30; // progress is read for this many orders (one request each)
const IMPORT_HOURS = 24;
const CLOSED = new Set(["completed", "cancelled"]);
const FORECAST_EVERY_MS = 5 * 60 * 1000;

const $ = (id) => document.getElementById(id);

const view = { filter: "open", dataNow: null, lines: [], forecastAt: 0 };
const refresher = new Refresher(refresh, REFRESH_GAP_MS);

function cell(content, className) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  if (className) td.className = className;
  return td;
}

function statusChip(status) {
  const chip = document.createElement("span");
  chip.className = "status-chip";
  chip.dataset.status = status;
  chip.textContent = humanize(status);
  return chip;
}

/** The share of the planned quantity due by `now`, from the planned start and end. */
function expectedShare(order, now) {
  const { planned_start: start, planned_end: end } = order;
  if (!isNumber(start) || !isNumber(end) || end <= start || !isNumber(now)) return null;
  return Math.min(1, Math.max(0, (now - start) / (end - start)));
}

function progressBar(order, progress, now) {
  const box = document.createElement("div");
  box.className = "progress";
  if (!progress) {
    box.textContent = "—";
    return box;
  }
  const share = Math.min(1, progress.good / Math.max(1, progress.planned));
  const bar = document.createElement("div");
  bar.className = "progress-bar";
  bar.style.width = `${(share * 100).toFixed(1)}%`;
  const text = document.createElement("span");
  text.className = "progress-text";
  text.textContent = `${formatCount(progress.good)} / ${formatCount(progress.planned)} · ${Math.round(progress.percent)}%`;
  box.append(bar, text);
  const expected = expectedShare(order, now);
  if (expected !== null && !CLOSED.has(order.status)) {
    const mark = document.createElement("div");
    mark.className = "progress-expected";
    mark.style.left = `${(expected * 100).toFixed(1)}%`;
    mark.title = `planned by now: ${Math.round(expected * 100)}%`;
    box.append(mark);
  }
  box.dataset.good = String(progress.good);
  return box;
}

function planned(order) {
  if (!isNumber(order.planned_start)) return "—";
  const end = isNumber(order.planned_end) ? ` – ${formatDateTime(order.planned_end)}` : "";
  return `${formatDateTime(order.planned_start)}${end}`;
}

function orderRow(order, progress) {
  const tr = document.createElement("tr");
  tr.dataset.order = order.id;
  tr.append(
    cell(order.id),
    cell(order.product),
    cell(order.asset.split("/").slice(-2).join("/")),
    cell(statusChip(order.status)),
    cell(formatCount(order.quantity), "num"),
    cell(planned(order)),
    cell(isNumber(order.actual_start) ? formatDateTime(order.actual_start) : "—"),
    cell(progressBar(order, progress, view.dataNow)),
    cell(progress ? formatCount(progress.scrap) : "—", "num"),
  );
  return tr;
}

async function refresh() {
  try {
    const all = await api.orders();
    const shown = all.filter((o) => view.filter === "all" || !CLOSED.has(o.status));
    const details = await Promise.all(
      shown.slice(0, DETAILED).map((o) => api.order(o.id).catch(() => null)),
    );
    $("orders").replaceChildren(...shown.map((o, i) => orderRow(o, details[i]?.progress)));
    $("orders").dataset.count = String(shown.length);
    $("orders-empty").hidden = shown.length > 0;
    $("orders-error").hidden = true;
  } catch (err) {
    $("orders-error").textContent = err.message;
    $("orders-error").hidden = false;
  }
}

function linesOf(tree) {
  const found = [];
  const visit = (node) => {
    if (node.level === "line") found.push(node.path);
    (node.children ?? []).forEach(visit);
  };
  tree.forEach(visit);
  return found;
}

/** "forecast [lower – upper]" of a quantity, or — when there is none. */
function band(quantity) {
  if (!quantity || !isNumber(quantity.forecast)) return "—";
  const span = isNumber(quantity.lower) && isNumber(quantity.upper)
    ? ` [${formatCount(Math.round(quantity.lower))} – ${formatCount(Math.round(quantity.upper))}]`
    : "";
  return `${formatCount(Math.round(quantity.forecast))}${span}`;
}

function pastError(quantity) {
  if (!quantity || !isNumber(quantity.backtest_mae)) return "—";
  const naive = isNumber(quantity.naive_mae) ? ` vs ${formatCount(Math.round(quantity.naive_mae))}` : "";
  return `${formatCount(Math.round(quantity.backtest_mae))}${naive}`;
}

function forecastRow(forecast) {
  const tr = document.createElement("tr");
  tr.dataset.line = forecast.line;
  tr.dataset.downtime = String(forecast.downtime?.forecast ?? "");
  tr.append(
    cell(forecast.line.split("/").slice(-2).join("/")),
    cell(forecast.shift),
    cell(band(forecast.downtime), "num"),
    cell(band(forecast.energy), "num"),
    cell(forecast.downtime?.method ?? "—"),
    cell(pastError(forecast.downtime), "num"),
  );
  return tr;
}

async function refreshForecasts() {
  view.forecastAt = Date.now();
  try {
    if (view.lines.length === 0) view.lines = linesOf(await api.assets());
    // A line with nothing to forecast (an ambient station, no machines) is left out.
    const settled = await Promise.allSettled(view.lines.map((line) => api.nextShift(line)));
    const forecasts = settled.filter((r) => r.status === "fulfilled").map((r) => r.value);
    $("forecasts").replaceChildren(...forecasts.map(forecastRow));
    $("forecasts").dataset.count = String(forecasts.length);
    $("forecast-error").hidden = true;
  } catch (err) {
    $("forecast-error").textContent = err.message;
    $("forecast-error").hidden = false;
  }
}

async function importOrders() {
  const to = view.dataNow ?? Date.now();
  try {
    const report = await api.importOrders(to - IMPORT_HOURS * 3600000, to);
    $("orders-info").textContent = `Imported: ${JSON.stringify(report)}`;
    $("orders-info").hidden = false;
    refresher.kick(true);
  } catch (err) {
    $("orders-error").textContent = err.message;
    $("orders-error").hidden = false;
  }
}

function markFilter() {
  for (const b of $("order-filter").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(b.dataset.filter === view.filter));
  }
}

async function start() {
  markFilter();
  $("order-filter").addEventListener("click", (e) => {
    const filter = e.target.closest("button")?.dataset.filter;
    if (!filter) return;
    view.filter = filter;
    markFilter();
    refresher.kick(true);
  });
  $("import-orders").addEventListener("click", importOrders);
  await startShell({
    page: "orders",
    onTick: (tick) => {
      view.dataNow = tick.latest_ts ?? tick.now;
      refresher.kick();
      if (Date.now() - view.forecastAt > FORECAST_EVERY_MS) refreshForecasts();
    },
  });
  $("import-orders").hidden = !hasRole("operator");
  refresher.kick(true);
  refreshForecasts();
}

start();
