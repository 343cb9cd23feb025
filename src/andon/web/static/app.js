// The andon board: machine tiles refreshed from one overview request every 2 s, and a
// detail panel (state timeline + tag trend) for the selected machine every 5 s.
//
// All times are epoch ms UTC. "Now" is the data clock (newest data point, `latest_ts`),
// not the browser's clock: an accelerated simulator or a plant clock that drifts from the
// screen's must not shift the windows or the time-in-state.

import { api } from "./api.js";
import { drawMessage, drawTimeline, drawTrend } from "./charts.js";
import { formatDateTime, formatDuration, humanize, isNumber } from "./format.js";
import { Poller } from "./poller.js";
import { stateCategory } from "./states.js";
import { TileBoard } from "./tiles.js";

const OVERVIEW_PERIOD_MS = 2000;
const DETAIL_PERIOD_MS = 5000;
const ASSETS_RETRY_MS = 10000;
const WINDOW_S = 3600;
const TREND_POINTS = 300;
// The API answers but the newest data point has not moved for this long: say so, since a
// board of frozen green tiles looks exactly like a healthy line.
const STALE_AFTER_MS = 60000;

const $ = (id) => document.getElementById(id);

const board = {
  selected: null, // asset path shown in the detail panel
  tags: [], // tags of the selected machine
  tagsFor: null, // asset the tags were loaded for
  tagId: null, // tag shown in the trend
  machines: new Map(), // asset -> latest overview entry
  dataNow: null, // data clock, epoch ms
  latestTs: undefined, // last latest_ts seen from /health (null: no data yet)
  latestMovedAt: performance.now(), // browser time latest_ts last advanced
  errors: { overview: null, health: null }, // message of the last failed poll, by kind
};

const tiles = new TileBoard($("tiles"), (asset) => selectMachine(asset));
const overviewPoller = new Poller(pollOverview, OVERVIEW_PERIOD_MS);
const detailPoller = new Poller(pollDetail, DETAIL_PERIOD_MS);

// ---- header: clock and live indicator ----

// Set from whichever response came last (overview every 2 s, health every 5 s). Both read
// the same newest timestamp; taking the latest answer, not the maximum, lets the board
// follow a database that was reset or a simulator restarted at an earlier time.
function setClock(ms) {
  if (!isNumber(ms)) return;
  board.dataNow = ms;
  const clock = $("clock");
  clock.textContent = formatDateTime(ms);
  clock.dateTime = new Date(ms).toISOString();
}

/** A failed poll as the live indicator shows it: the API's own message and its status. */
function describe(err) {
  return err.status ? `${err.message} (HTTP ${err.status})` : err.message;
}

function setStatus(state, text) {
  const status = $("status");
  if (status.dataset.state !== state) status.dataset.state = state;
  if ($("status-text").textContent !== text) $("status-text").textContent = text;
}

function refreshStatus() {
  const error = board.errors.overview ?? board.errors.health;
  if (error) return setStatus("error", error);
  if (board.latestTs === null) return setStatus("stale", "live · no data yet");
  const still = performance.now() - board.latestMovedAt;
  if (isNumber(board.latestTs) && still > STALE_AFTER_MS) {
    return setStatus("stale", `no new data for ${formatDuration(still)}`);
  }
  return setStatus("ok", "live");
}

async function refreshClock() {
  try {
    const health = await api.health();
    board.errors.health = null;
    if (health.latest_ts !== board.latestTs) board.latestMovedAt = performance.now();
    board.latestTs = health.latest_ts ?? null;
    setClock(health.latest_ts ?? health.now);
    $("version").textContent = health.version ? `v${health.version}` : "";
  } catch (err) {
    board.errors.health = describe(err);
  }
  refreshStatus();
}

async function loadPlantName() {
  for (;;) {
    try {
      const tree = await api.assets();
      const enterprise = tree[0];
      const site = enterprise?.children?.[0];
      $("plant").textContent = site ? `${enterprise.name} · ${site.name}` : enterprise?.name ?? "—";
      return;
    } catch {
      // The live indicator already reports an unreachable API; just try again later.
      await new Promise((resolve) => setTimeout(resolve, ASSETS_RETRY_MS));
    }
  }
}

// ---- tiles ----

async function pollOverview() {
  try {
    const overview = await api.overview(WINDOW_S);
    board.errors.overview = null;
    setClock(overview.now);
    const machines = overview.machines ?? [];
    board.machines = new Map(machines.map((m) => [m.asset, m]));
    tiles.update(machines, overview.now);
    if (!board.selected && tiles.firstAsset()) selectMachine(tiles.firstAsset());
    showDetailHeader();
  } catch (err) {
    board.errors.overview = describe(err);
  }
  refreshStatus();
}

// ---- detail panel ----

function selectMachine(asset) {
  if (asset === board.selected) return;
  board.selected = asset;
  $("detail").dataset.asset = asset;
  tiles.select(asset);
  showDetailHeader();
  detailPoller.kick();
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

async function pollDetail() {
  await refreshClock();
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
  detailPoller.kick();
}

// ---- start ----

function start() {
  const now = Date.now();
  drawMessage($("timeline"), "Select a machine", now - WINDOW_S * 1000, now);
  drawMessage($("trend"), "Select a machine", now - WINDOW_S * 1000, now);
  $("tag-select").addEventListener("change", onTagChange);
  overviewPoller.start();
  detailPoller.start();
  loadPlantName();
}

start();
