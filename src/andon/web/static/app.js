// The plant overview: machine tiles (state, OEE of the current shift) and a strip of the
// measuring stations' latest readings (ambient conditions), refreshed from one overview
// request per live tick (at most every 2 s), and a detail panel (state timeline + tag trend)
// for the selected machine (at most every 5 s).
//
// All times are epoch ms UTC. "Now" is the data clock (newest data point), not the
// browser's clock: an accelerated simulator or a plant clock that drifts from the screen's
// must not shift the windows or the time-in-state.

import { api } from "./api.js";
import { drawMessage, drawTimeline, drawTrend } from "./charts.js";
import { humanize, isNumber } from "./format.js";
import { Refresher } from "./refresh.js";
import { setClock, startShell } from "./shell.js";
import { stateCategory } from "./states.js";
import { StationStrip } from "./stations.js";
import { TileBoard } from "./tiles.js";

const OVERVIEW_GAP_MS = 2000;
const DETAIL_GAP_MS = 5000;
const WINDOW_S = 3600;
const TREND_POINTS = 300;

const $ = (id) => document.getElementById(id);

const board = {
  selected: null, // asset path shown in the detail panel
  tags: [], // tags of the selected machine
  tagsFor: null, // asset the tags were loaded for
  tagId: null, // tag shown in the trend
  machines: new Map(), // asset -> latest overview entry
  dataNow: null, // data clock, epoch ms
};

const tiles = new TileBoard($("tiles"), (asset) => selectMachine(asset));
const stations = new StationStrip($("stations"));
const overview = new Refresher(refreshOverview, OVERVIEW_GAP_MS);
const detail = new Refresher(refreshDetail, DETAIL_GAP_MS);

// ---- tiles ----

async function refreshOverview() {
  try {
    // OEE of the current shift when the plant calendar has one, else of the last hour.
    const answer = await api.overview(WINDOW_S, true);
    board.dataNow = answer.now;
    setClock(answer.now);
    const machines = answer.machines ?? [];
    board.machines = new Map(machines.map((m) => [m.asset, m]));
    tiles.update(machines, answer.now, answer.shift ? "OEE shift" : "OEE 1 h");
    stations.update(answer.stations ?? []);
    $("tiles-error").hidden = true;
    if (!board.selected && tiles.firstAsset()) selectMachine(tiles.firstAsset());
    showDetailHeader();
  } catch (err) {
    $("tiles-error").hidden = false;
    $("tiles-error").textContent = `Overview unavailable: ${err.message}`;
  }
}

// ---- detail panel ----

function selectMachine(asset) {
  if (asset === board.selected) return;
  board.selected = asset;
  $("detail").dataset.asset = asset;
  $("detail-link").href = `machine?asset=${encodeURIComponent(asset)}`;
  tiles.select(asset);
  showDetailHeader();
  detail.kick(true);
}

function showDetailHeader() {
  const asset = board.selected;
  if (!asset) return;
  const machine = board.machines.get(asset);
  $("detail-title").textContent = machine?.name ?? asset.split("/").pop();
  $("detail-path").textContent = asset;
  const chip = $("detail-state");
  chip.textContent = machine?.state ? humanize(machine.state) : "No data";
  chip.dataset.category = stateCategory(machine?.code, machine?.state);
}

async function loadTags(asset) {
  const tags = await api.tags(asset);
  if (board.selected !== asset) return;
  // Keep the same measurement when switching machines (compare spindle to spindle).
  const previous = board.tags.find((t) => t.id === board.tagId)?.name;
  board.tags = tags;
  board.tagsFor = asset;
  board.tagId = (tags.find((t) => t.name === previous) ?? tags[0])?.id ?? null;
  fillTagSelect();
}

async function tryLoadTags(asset, from, to) {
  try {
    await loadTags(asset);
    return board.tagsFor === asset;
  } catch (err) {
    const text = `Tags unavailable: ${err.message}`;
    if (board.selected === asset) drawMessage($("trend"), text, from, to);
    return false;
  }
}

function fillTagSelect() {
  const select = $("tag-select");
  const options = board.tags.map((tag) => {
    const option = document.createElement("option");
    option.value = String(tag.id);
    option.textContent = tag.unit ? `${tag.name} (${tag.unit})` : tag.name;
    return option;
  });
  select.replaceChildren(...options);
  select.disabled = options.length === 0;
  if (board.tagId !== null) select.value = String(board.tagId);
}

async function refreshTimeline(asset, from, to) {
  const el = $("timeline");
  try {
    const result = await api.states(asset, from, to);
    if (board.selected !== asset) return;
    el.dataset.asset = asset;
    drawTimeline(el, result.spans ?? [], from, to, asset);
  } catch (err) {
    if (board.selected === asset) drawMessage(el, err.message, from, to);
  }
}

async function refreshTrend(asset, from, to) {
  const el = $("trend");
  const tagId = board.tagId;
  if (tagId === null) {
    drawMessage(el, "No tags on this machine", from, to);
    return;
  }
  // About TREND_POINTS buckets over the window, whatever its length.
  const bucketS = Math.max(1, Math.round(WINDOW_S / TREND_POINTS));
  try {
    const series = await api.series(tagId, from, to, bucketS);
    if (board.selected !== asset || board.tagId !== tagId) return;
    el.dataset.tag = String(tagId);
    drawTrend(el, series, from, to, `${asset}|${tagId}`);
  } catch (err) {
    if (board.selected === asset && board.tagId === tagId) drawMessage(el, err.message, from, to);
  }
}

async function refreshDetail() {
  const asset = board.selected;
  if (!asset || !isNumber(board.dataNow)) return;
  const to = board.dataNow;
  const from = to - WINDOW_S * 1000;
  // Tags load once per machine; until they have, the trend must not show the tag id of
  // the previously selected machine.
  const tagsReady = board.tagsFor === asset || (await tryLoadTags(asset, from, to));
  await Promise.all([
    refreshTimeline(asset, from, to),
    tagsReady ? refreshTrend(asset, from, to) : null,
  ]);
}

function onTagChange(event) {
  const value = event.target.value;
  board.tagId = value === "" ? null : Number(value);
  detail.kick(true);
}

// ---- start ----

async function start() {
  const now = Date.now();
  drawMessage($("timeline"), "Select a machine", now - WINDOW_S * 1000, now);
  drawMessage($("trend"), "Select a machine", now - WINDOW_S * 1000, now);
  $("tag-select").addEventListener("change", onTagChange);
  await startShell({
    page: "overview",
    onTick: (tick) => {
      if (isNumber(tick.latest_ts)) board.dataNow = tick.latest_ts + 1;
      overview.kick();
      detail.kick();
    },
  });
  overview.kick(true);
}

start();
