// Tag explorer: any tag's series over up to 30 days, zoomable. The server downsamples to
// about one min/max/avg bucket per pixel of the chart, so a month of 1 Hz data (2.6 million
// samples) arrives as a couple of thousand rows; zooming asks again at the finer scale.

import { api } from "./api.js";
import { drawMessage, drawTrend } from "./charts.js";
import { formatCount } from "./format.js";
import { Refresher } from "./refresh.js";
import { startShell } from "./shell.js";

const HOUR_MS = 3600000;
const LIVE_GAP_MS = 5000;

const $ = (id) => document.getElementById(id);

const view = {
  tags: [],
  tag: null, // the tag object shown
  hours: 1, // the range button in force while following the data clock
  follow: true, // the window ends at the newest data and moves with it
  from: null,
  to: null,
  dataNow: null,
};

const chart = $("explorer-chart");
const refresher = new Refresher(draw, LIVE_GAP_MS);

function readUrl() {
  const params = new URLSearchParams(window.location.search);
  const tag = Number(params.get("tag"));
  const from = Number(params.get("from"));
  const to = Number(params.get("to"));
  if (from && to && to > from) Object.assign(view, { from, to, follow: false });
  const hours = Number(params.get("hours"));
  if (hours > 0) view.hours = hours;
  return Number.isFinite(tag) && tag > 0 ? tag : null;
}

function writeUrl() {
  const params = new URLSearchParams();
  if (view.tag) params.set("tag", String(view.tag.id));
  if (view.follow) {
    params.set("hours", String(view.hours));
  } else {
    params.set("from", String(view.from));
    params.set("to", String(view.to));
  }
  history.replaceState(null, "", `?${params}`);
}

function window_() {
  if (!view.follow) return [view.from, view.to];
  const to = view.dataNow ?? Date.now();
  return [to - view.hours * HOUR_MS, to];
}

function bindZoom() {
  // Plotly adds `.on` to the element with its first drawing.
  if (chart.dataset.bound || typeof chart.on !== "function") return;
  chart.on("plotly_relayout", onRelayout);
  chart.dataset.bound = "1";
}

async function draw() {
  await drawView();
  bindZoom();
}

async function drawView() {
  const [from, to] = window_();
  if (!view.tag) {
    await drawMessage(chart, "Select a tag", from, to);
    return;
  }
  const points = Math.max(100, Math.min(4000, Math.round(chart.clientWidth || 1000)));
  const started = performance.now();
  try {
    const series = await api.seriesPoints(view.tag.id, from, to, points);
    const ms = Math.round(performance.now() - started);
    chart.dataset.tag = String(view.tag.id);
    chart.dataset.from = String(from);
    chart.dataset.to = String(to);
    await drawTrend(chart, series, from, to, `${view.tag.id}|${from}|${to}|${view.follow}`);
    const samples = (series.points ?? []).reduce((n, p) => n + (p.count ?? 1), 0);
    $("explorer-info").textContent =
      `${formatCount(samples)} samples in ${formatCount(series.points?.length ?? 0)} buckets ` +
      `of ${series.bucket_s} s · ${ms} ms`;
  } catch (err) {
    await drawMessage(chart, err.message, from, to);
  }
}

function parsePlotTime(text) {
  return new Date(String(text).replace(" ", "T")).getTime();
}

function onRelayout(event) {
  if (event["xaxis.range[0]"] !== undefined) {
    view.from = Math.round(parsePlotTime(event["xaxis.range[0]"]));
    view.to = Math.round(parsePlotTime(event["xaxis.range[1]"]));
    view.follow = false;
  } else if (event["xaxis.autorange"]) {
    view.follow = true;
  } else {
    return;
  }
  markRange();
  writeUrl();
  refresher.kick(true);
}

function markRange() {
  for (const button of $("ranges").querySelectorAll("button")) {
    const on = view.follow && Number(button.dataset.hours) === view.hours;
    button.setAttribute("aria-pressed", String(on));
  }
}

function selectTag(tag) {
  view.tag = tag;
  $("tag-title").textContent = tag ? `${tag.asset.split("/").pop()} · ${tag.name}` : "Select a tag";
  $("tag-title").title = tag ? `${tag.asset}/${tag.name}` : "";
  for (const item of $("tag-list").querySelectorAll("li")) {
    item.classList.toggle("selected", Number(item.dataset.tag) === tag?.id);
  }
  writeUrl();
  refresher.kick(true);
}

function fillList() {
  const filter = $("tag-filter").value.trim().toLowerCase();
  const items = view.tags
    .filter((t) => `${t.asset}/${t.name}`.toLowerCase().includes(filter))
    .map((t) => {
      const item = document.createElement("li");
      item.dataset.tag = String(t.id);
      item.tabIndex = 0;
      item.textContent = `${t.asset.split("/").slice(-2).join("/")} · ${t.name}`;
      item.title = `${t.asset}/${t.name}${t.unit ? ` (${t.unit})` : ""}`;
      item.classList.toggle("selected", t.id === view.tag?.id);
      return item;
    });
  $("tag-list").replaceChildren(...items);
}

function onListClick(event) {
  const item = event.target.closest("li[data-tag]");
  if (!item) return;
  selectTag(view.tags.find((t) => t.id === Number(item.dataset.tag)) ?? null);
}

async function start() {
  const wanted = readUrl();
  markRange();
  $("tag-filter").addEventListener("input", fillList);
  $("tag-list").addEventListener("click", onListClick);
  $("tag-list").addEventListener("keydown", (e) => e.key === "Enter" && onListClick(e));
  $("ranges").addEventListener("click", (event) => {
    const hours = Number(event.target.closest("button")?.dataset.hours);
    if (!hours) return;
    Object.assign(view, { hours, follow: true });
    markRange();
    writeUrl();
    refresher.kick(true);
  });
  await startShell({
    page: "tags",
    onTick: (tick) => {
      view.dataNow = tick.latest_ts ?? tick.now;
      if (view.follow) refresher.kick();
    },
  });
  view.tags = await api.tags();
  fillList();
  selectTag(view.tags.find((t) => t.id === wanted) ?? view.tags[0] ?? null);
}

start();
