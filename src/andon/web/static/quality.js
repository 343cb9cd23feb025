// Quality: scrap and the quality ratio per machine and per period (hour or shift) from the
// ISO 22400-2 KPIs, a Pareto of scrap by machine with drill-down to its periods, the defect
// types of recorded inspections, and a control chart (the scrap p chart of a machine, or an
// I-MR chart of one of its tags) with its Nelson rule violations.

import { api } from "./api.js";
import { formatCount, formatPercent, isNumber } from "./format.js";
import { drawControlChart, drawNote, drawPareto } from "./kpi_charts.js";
import { Refresher } from "./refresh.js";
import { startShell } from "./shell.js";

const HOUR_MS = 3600000;
const REFRESH_GAP_MS = 10000;

const $ = (id) => document.getElementById(id);

const view = { asset: null, hours: 24, by: "hour", machine: null, dataNow: null, rows: [] };
const refresher = new Refresher(refresh, REFRESH_GAP_MS);

function fillAreas(tree) {
  const options = [];
  const visit = (node) => {
    if (node.level === "cell") return;
    options.push(new Option(node.path, node.path));
    (node.children ?? []).forEach(visit);
  };
  tree.forEach(visit);
  $("quality-asset").replaceChildren(...options);
  view.asset = view.asset ?? options.find((o) => o.value.split("/").length === 2)?.value ?? options[0]?.value;
  $("quality-asset").value = view.asset;
}

function fillSpcMachines() {
  const cells = cellsUnder(view.tree, "");
  $("spc-machine").replaceChildren(...cells.map((c) => new Option(c.split("/").slice(-2).join("/"), c)));
}

function cellsUnder(tree, root) {
  const found = [];
  const visit = (node) => {
    const under = root === "" || node.path === root || node.path.startsWith(`${root}/`);
    if (node.level === "cell" && under) found.push(node.path);
    (node.children ?? []).forEach(visit);
  };
  tree.forEach(visit);
  return found;
}

async function byMachine(cells, from, to) {
  const answers = await Promise.all(
    cells.map((cell) =>
      api.kpis(cell, from, to, view.by).catch((err) => {
        if (view.by === "shift" && err.status === 400) return api.kpis(cell, from, to, "hour");
        throw err;
      }),
    ),
  );
  return answers.map((answer, i) => ({ cell: cells[i], ...answer }));
}

function showTotals(total) {
  $("q-quality").textContent = formatPercent(total.quality);
  $("q-scrap-ratio").textContent = formatPercent(total.scrap_ratio);
  $("q-produced").textContent = formatCount(total.produced);
  $("q-good").textContent = formatCount(total.good);
  $("q-scrap").textContent = formatCount(total.scrap);
}

function showMachines(machines) {
  const rows = machines
    .map((m) => ({ label: m.cell.split("/").pop(), value: m.total.scrap, count: m.total.produced }))
    .sort((a, b) => b.value - a.value);
  drawPareto($("scrap-machines"), rows, "parts", "No parts made in this window").then(bindClicks);
}

function bindClicks() {
  const el = $("scrap-machines");
  if (!el.dataset.bound && typeof el.on === "function") {
    el.on("plotly_click", (event) => {
      const name = event.points?.[0]?.x;
      view.machine = name === view.machine ? null : name;
      showPeriods();
    });
    el.dataset.bound = "1";
  }
}

const byLabel = (a, b) => a.label.localeCompare(b.label);

function showPeriods() {
  const chosen = view.rows.filter((r) => view.machine === null || r.machine === view.machine);
  const byPeriod = new Map();
  for (const row of chosen) byPeriod.set(row.period, (byPeriod.get(row.period) ?? 0) + row.scrap);
  const periods = [...byPeriod].map(([label, value]) => ({ label, value })).sort(byLabel);
  const what = view.machine ? ` · ${view.machine}` : "";
  $("scrap-periods-title").textContent = `Scrap by period${what}`;
  $("quality-table-title").textContent = `Machines and periods${what}`;
  drawPareto($("scrap-periods"), periods, "parts", "No scrap", { cumulative: false });
  $("quality-rows").replaceChildren(...chosen.map(tableRow));
  $("quality-rows").dataset.count = String(chosen.length);
}

function tableRow(row) {
  const tr = document.createElement("tr");
  const cells = [
    row.machine,
    row.period,
    formatCount(row.produced),
    formatCount(row.good),
    formatCount(row.scrap),
    formatPercent(row.scrap_ratio),
    formatPercent(row.quality),
  ];
  cells.forEach((text, i) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (i >= 2) td.className = "num";
    tr.append(td);
  });
  return tr;
}

async function showDefects(from, to) {
  const rows = await api.defects(view.asset, from, to);
  const bars = rows.map((r) => ({ label: r.defect, value: r.count }));
  return drawPareto($("defects"), bars, "defects", "No inspections recorded in this window");
}

async function showControlChart(from, to) {
  const machine = $("spc-machine").value;
  const tag = $("spc-source").value;
  if (!machine) return null;
  try {
    const chart = tag
      ? await api.spcTag(machine, tag, from, to)
      : await api.spcScrap(machine, from, to);
    const violations = chart.violations?.length ?? 0;
    $("spc-info").textContent =
      `${chart.kind} chart of ${chart.points} points, limits from ${chart.limits_from}; ` +
      `${violations} rule violation${violations === 1 ? "" : "s"}`;
    return drawControlChart($("spc-chart"), chart);
  } catch (err) {
    $("spc-info").textContent = "";
    return drawNote($("spc-chart"), err.message);
  }
}

async function fillSpcSources() {
  const machine = $("spc-machine").value;
  const tags = machine ? await api.tags(machine) : [];
  const options = [new Option("scrap (p chart)", "")];
  options.push(...tags.map((t) => new Option(`${t.name} (I-MR)`, t.name)));
  $("spc-source").replaceChildren(...options);
}

async function refresh() {
  if (!view.asset || !isNumber(view.dataNow)) return;
  const to = view.dataNow;
  const from = to - view.hours * HOUR_MS;
  try {
    const [total, machines] = await Promise.all([
      api.kpis(view.asset, from, to),
      byMachine(cellsUnder(view.tree, view.asset), from, to),
      showDefects(from, to),
      showControlChart(from, to),
    ]);
    showTotals(total.total);
    view.rows = machines.flatMap((m) =>
      (m.periods ?? [])
        .filter((p) => p.produced > 0 || p.scrap > 0) // periods without parts say nothing here
        .map((p) => ({ machine: m.cell.split("/").pop(), period: p.label, ...p })),
    );
    showMachines(machines);
    showPeriods();
    $("quality-error").hidden = true;
    document.body.dataset.scrap = String(total.total.scrap);
  } catch (err) {
    $("quality-error").textContent = err.message;
    $("quality-error").hidden = false;
  }
}

function mark() {
  for (const b of $("quality-hours").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.hours) === view.hours));
  }
  for (const b of $("quality-by").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(b.dataset.by === view.by));
  }
}

function changed(update) {
  Object.assign(view, update, { machine: null });
  mark();
  refresher.kick(true);
}

async function start() {
  mark();
  $("quality-hours").addEventListener("click", (e) => {
    const hours = Number(e.target.closest("button")?.dataset.hours);
    if (hours) changed({ hours });
  });
  $("quality-by").addEventListener("click", (e) => {
    const by = e.target.closest("button")?.dataset.by;
    if (by) changed({ by });
  });
  $("quality-asset").addEventListener("change", (e) => changed({ asset: e.target.value }));
  await startShell({
    page: "quality",
    onTick: (tick) => {
      view.dataNow = (tick.latest_ts ?? tick.now) + 1;
      refresher.kick();
    },
  });
  view.tree = await api.assets();
  fillAreas(view.tree);
  fillSpcMachines();
  await fillSpcSources();
  $("spc-machine").addEventListener("change", async () => {
    await fillSpcSources();
    refresher.kick(true);
  });
  $("spc-source").addEventListener("change", () => refresher.kick(true));
  refresher.kick(true);
}

start();
