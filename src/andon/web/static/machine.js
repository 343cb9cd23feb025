// Line / machine view: KPIs of the window, OEE trend per hour or shift with A/P/Q, the state
// timeline, the six big losses, the downtime Pareto with its stops, and annotating a stop
// with a reason from the plant's reason tree (operators and above).

import { api, getJson } from "./api.js";
import { drawGantt } from "./charts.js";
import { formatCount, formatDateTime, formatDuration, formatPercent, humanize, isNumber } from "./format.js";
import { drawKpiTrend, drawNote, drawPareto, drawWaterfall } from "./kpi_charts.js";
import { Refresher } from "./refresh.js";
import { hasRole, startShell } from "./shell.js";

const HOUR_MS = 3600000;
const REFRESH_GAP_MS = 5000;
const MAX_ROWS = 200;

const $ = (id) => document.getElementById(id);

const view = {
  asset: null,
  hours: 8,
  by: "hour",
  micro: false,
  reason: null, // Pareto bar picked: only its stops in the table
  dataNow: null,
  cells: new Map(), // asset path -> cell paths under it
  events: [],
  annotating: null, // the stop being annotated
  ready: false, // the asset tree and reasons are loaded
};

const refresher = new Refresher(refresh, REFRESH_GAP_MS);

// ---- the asset picker, from the ISA-95 tree ----

function walk(node, visit) {
  visit(node);
  for (const child of node.children ?? []) walk(child, visit);
}

function fillAssets(tree) {
  const select = $("asset-select");
  const groups = [];
  for (const root of tree) {
    walk(root, (node) => {
      if (node.level !== "line") return;
      const cells = (node.children ?? []).map((c) => c.path);
      view.cells.set(node.path, cells);
      cells.forEach((cell) => view.cells.set(cell, [cell]));
      const group = document.createElement("optgroup");
      group.label = node.path.split("/").slice(2).join(" / ");
      const line = new Option(`${node.name} (whole line)`, node.path);
      group.append(line, ...(node.children ?? []).map((c) => new Option(c.display_name ?? c.name, c.path)));
      groups.push(group);
    });
  }
  select.replaceChildren(...groups);
}

// ---- URL and controls ----

function readUrl() {
  const params = new URLSearchParams(window.location.search);
  view.asset = params.get("asset");
  const hours = Number(params.get("hours"));
  if (hours > 0) view.hours = hours;
  if (params.get("by") === "shift") view.by = "shift";
}

function writeUrl() {
  const params = new URLSearchParams({ asset: view.asset ?? "", hours: String(view.hours), by: view.by });
  history.replaceState(null, "", `?${params}`);
}

function markControls() {
  for (const b of $("machine-hours").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.hours) === view.hours));
  }
  for (const b of $("machine-by").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(b.dataset.by === view.by));
  }
  $("asset-select").value = view.asset ?? "";
  $("show-micro").checked = view.micro;
  $("machine-title").textContent = view.asset ? view.asset.split("/").pop() : "—";
  $("machine-path").textContent = view.asset ?? "";
}

function changed(update) {
  Object.assign(view, update);
  view.reason = null;
  closeAnnotation();
  markControls();
  writeUrl();
  refresher.kick(true);
}

// ---- data ----

async function kpisWithFallback(from, to) {
  try {
    return await api.kpis(view.asset, from, to, view.by);
  } catch (err) {
    if (view.by !== "shift" || err.status !== 400) throw err;
    // No shift calendar yet: per hour, and say why.
    $("machine-error").textContent = `Per shift: ${err.message}. Showing per hour.`;
    $("machine-error").hidden = false;
    return api.kpis(view.asset, from, to, "hour");
  }
}

async function ganttRows(from, to) {
  const cells = view.cells.get(view.asset) ?? [view.asset];
  // One bucket per pixel: a week of micro-stops is 30,000 slivers no screen can show.
  const points = Math.max(200, Math.round($("gantt").clientWidth || 1200));
  const timelines = await Promise.all(cells.map((cell) => api.states(cell, from, to, points)));
  return timelines.map((t, i) => ({ name: cells[i].split("/").pop(), spans: t.spans ?? [] }));
}

async function refresh() {
  if (!view.ready || !view.asset || !isNumber(view.dataNow)) return;
  const to = view.dataNow;
  const from = to - view.hours * HOUR_MS;
  $("machine-error").hidden = true;
  // Each answer is drawn as soon as it is here: the timeline and the stops usually come
  // before the KPIs (the slowest call), so their drawing overlaps the server's work.
  const kpis = kpisWithFallback(from, to).then(async (answer) => {
    showKpis(answer.total);
    await drawKpiTrend($("kpi-trend"), answer.periods ?? []);
    return answer;
  });
  // The newest stops overall and of each reason: the table and its drill-down, without the
  // thousands of micro-stops of a week (the Pareto still counts all of them).
  const downtime = getJson("/downtime", {
    asset: view.asset,
    from,
    to,
    micro: view.micro,
    limit: MAX_ROWS,
  }).then(showDowntime);
  const gantt = ganttRows(from, to).then((rows) =>
    drawGantt($("gantt"), rows, from, to, `${view.asset}|${view.hours}`),
  );
  try {
    const [answer] = await Promise.all([kpis, downtime, gantt]);
    document.body.dataset.asset = view.asset;
    document.body.dataset.oee = String(answer.total.oee ?? "");
    // Below the fold on most screens: drawn last, after what is in sight.
    drawWaterfall($("waterfall"), answer.total);
  } catch (err) {
    $("machine-error").textContent = err.message;
    $("machine-error").hidden = false;
    drawNote($("kpi-trend"), err.message);
  }
}

function showKpis(total) {
  const set = (id, text) => {
    if ($(id).textContent !== text) $(id).textContent = text;
  };
  set("kpi-oee", formatPercent(total.oee));
  set("kpi-availability", formatPercent(total.availability));
  set("kpi-performance", formatPercent(total.performance));
  set("kpi-quality", formatPercent(total.quality));
  set("kpi-produced", formatCount(total.produced));
  set("kpi-scrap", formatCount(total.scrap));
  set("kpi-mtbf", isNumber(total.mtbf_s) ? formatDuration(total.mtbf_s * 1000) : "—");
  set("kpi-mttr", isNumber(total.mttr_s) ? formatDuration(total.mttr_s * 1000) : "—");
}

// ---- downtime: Pareto, stops, annotation ----

function showDowntime(downtime) {
  view.events = downtime.events ?? [];
  const rows = (downtime.pareto ?? []).map((row) => ({
    label: row.reason,
    value: row.seconds / 60,
    count: row.stops,
  }));
  drawPareto($("pareto"), rows, "min", "No stops in this window").then(bindParetoClicks);
  showEvents();
}

function bindParetoClicks() {
  const el = $("pareto");
  if (el.dataset.bound || typeof el.on !== "function") return;
  el.on("plotly_click", (event) => {
    const reason = event.points?.[0]?.x;
    view.reason = reason === view.reason ? null : reason;
    showEvents();
  });
  el.dataset.bound = "1";
}

function reasonsOf(event) {
  const named = Object.keys(event.by_reason ?? {});
  return named.length > 0 ? named : [event.reason ?? event.state];
}

function showEvents() {
  const wanted = view.events
    .filter((e) => view.reason === null || reasonsOf(e).includes(view.reason))
    .sort((a, b) => b.start - a.start);
  $("events-title").textContent = view.reason ? `Stops · ${humanize(view.reason)}` : "Stops";
  $("events").replaceChildren(...wanted.slice(0, MAX_ROWS).map(eventRow));
  $("events").dataset.count = String(wanted.length);
  $("events-empty").hidden = wanted.length > 0;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function eventRow(event) {
  const tr = document.createElement("tr");
  tr.dataset.start = String(event.start);
  tr.dataset.asset = event.asset;
  tr.classList.toggle("active", view.annotating === event);
  const end = isNumber(event.end) ? formatDateTime(event.end) : "ongoing";
  const action = document.createElement("td");
  if (hasRole("operator")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link-button annotate-button";
    button.textContent = event.annotations?.length ? "Re-annotate" : "Annotate";
    button.disabled = event.annotations?.length > 0;
    button.addEventListener("click", () => openAnnotation(event));
    action.append(button);
  }
  tr.append(
    cell(event.asset.split("/").pop()),
    cell(formatDateTime(event.start)),
    cell(end),
    cell((event.seconds / 60).toFixed(1), "num"),
    cell(humanize(event.state)),
    cell(reasonsOf(event).map(humanize).join(", ")),
    action,
  );
  return tr;
}

function fillReasons(tree) {
  const groups = tree.map((category) => {
    const group = document.createElement("optgroup");
    group.label = category.name;
    group.append(...(category.children ?? []).map((r) => new Option(r.name, r.code)));
    return group;
  });
  $("annotate-reason").replaceChildren(...groups);
}

function openAnnotation(event) {
  view.annotating = event;
  const end = isNumber(event.end) ? event.end : view.dataNow;
  $("annotate-stop").textContent =
    `${event.asset} · ${humanize(event.state)} · ${formatDateTime(event.start)} – ` +
    `${formatDateTime(end)} (${formatDuration(end - event.start)})`;
  $("annotate-error").hidden = true;
  $("annotate-form").hidden = false;
  $("annotate-reason").focus();
  showEvents();
}

function closeAnnotation() {
  view.annotating = null;
  $("annotate-form").hidden = true;
}

async function submitAnnotation(submit) {
  submit.preventDefault();
  const event = view.annotating;
  if (!event) return;
  const piece = {
    from: event.start,
    to: isNumber(event.end) ? event.end : view.dataNow,
    reason: $("annotate-reason").value,
    note: $("annotate-note").value.trim() || null,
  };
  try {
    await api.annotate(event.asset, [piece]);
    closeAnnotation();
    $("annotate-note").value = "";
    refresher.kick(true);
  } catch (err) {
    $("annotate-error").textContent = err.message;
    $("annotate-error").hidden = false;
  }
}

// ---- start ----

async function start() {
  readUrl();
  $("machine-hours").addEventListener("click", (e) => {
    const hours = Number(e.target.closest("button")?.dataset.hours);
    if (hours) changed({ hours });
  });
  $("machine-by").addEventListener("click", (e) => {
    const by = e.target.closest("button")?.dataset.by;
    if (by) changed({ by });
  });
  $("asset-select").addEventListener("change", (e) => changed({ asset: e.target.value }));
  $("show-micro").addEventListener("change", (e) => changed({ micro: e.target.checked }));
  $("annotate-form").addEventListener("submit", submitAnnotation);
  $("annotate-cancel").addEventListener("click", () => {
    closeAnnotation();
    showEvents();
  });
  // The asset tree, the reasons and the data clock are asked for while the sign-in is
  // checked, not after it. If the check sends the browser to the sign-in page, these fail
  // (401) and nobody waits for them: the catch keeps that from being an unhandled rejection.
  const early = Promise.all([api.assets(), api.reasons(), api.health()]);
  early.catch(() => {});
  await startShell({
    page: "machine",
    onTick: (tick) => {
      view.dataNow = (tick.latest_ts ?? tick.now) + 1;
      refresher.kick();
    },
  });
  const [tree, reasons, health] = await early;
  // The first live tick may still be on its way: the health answer carries the same clock.
  if (!isNumber(view.dataNow)) view.dataNow = (health.latest_ts ?? health.now) + 1;
  fillAssets(tree);
  fillReasons(reasons);
  if (!view.asset || !view.cells.has(view.asset)) view.asset = [...view.cells.keys()][1] ?? null;
  view.ready = true;
  markControls();
  writeUrl();
  refresher.kick(true);
}

start();
