// Machine tiles grouped by line, updated in place from /api/v1/overview.
//
// Every poll rewrites only the text that changed and never rebuilds a tile, so the wall
// screen does not flicker and a tile keeps keyboard focus across refreshes.

import {
  formatCount,
  formatDuration,
  formatPercent,
  humanize,
  inPlant,
  isNumber,
} from "./format.js";
import { stateCategory } from "./states.js";
import { placeAt, setAttr, setText } from "./dom.js";

const byNaturalOrder = (a, b) => a.localeCompare(b, undefined, { numeric: true });

function lineOf(machine) {
  if (machine.line) return machine.line;
  return machine.asset.split("/").slice(0, -1).join("/");
}

function sortMachines(machines) {
  return [...machines].sort(
    (a, b) => byNaturalOrder(lineOf(a), lineOf(b)) || byNaturalOrder(a.asset, b.asset),
  );
}

export class TileBoard {
  /**
   * @param {HTMLElement} container  the #tiles element
   * @param {(asset: string) => void} onSelect  called when a tile is clicked or activated
   */
  constructor(container, onSelect) {
    this.container = container;
    this.template = document.getElementById("tile-template");
    this.tiles = new Map(); // asset -> {root, parts}
    this.lines = new Map(); // line path -> {section, body}
    this.selected = null;
    this.onSelect = onSelect;
    // One listener for all tiles, so tiles added later need no wiring.
    container.addEventListener("click", (event) => this.#activate(event));
    container.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") this.#activate(event);
    });
  }

  /**
   * Render the overview's machines; `now` is the clock "time in state" is measured on and
   * `oeeLabel` names the OEE window ("OEE shift", "OEE 1 h").
   */
  update(machines, now, oeeLabel = "OEE 1 h") {
    this.oeeLabel = oeeLabel;
    const seen = new Set();
    const sorted = sortMachines(machines);
    const lineOrder = [...new Set(sorted.map(lineOf))];
    lineOrder.forEach((line, index) => placeAt(this.container, this.#line(line).section, index));
    for (const line of lineOrder) {
      const inLine = sorted.filter((m) => lineOf(m) === line);
      inLine.forEach((machine, index) => {
        const tile = this.#tile(machine.asset);
        this.#fill(tile, machine, now);
        placeAt(this.lines.get(line).body, tile.root, index);
        seen.add(machine.asset);
      });
    }
    this.#prune(seen, new Set(lineOrder));
    document.getElementById("tiles-empty")?.toggleAttribute("hidden", sorted.length > 0);
  }

  /** The asset of the first tile on the board (lines and machines in natural order). */
  firstAsset() {
    return this.container.querySelector(".tile")?.dataset.asset ?? null;
  }

  /** Highlight the tile of `asset` as the one shown in the detail panel. */
  select(asset) {
    this.selected = asset;
    for (const [key, tile] of this.tiles) {
      const on = key === asset;
      tile.root.classList.toggle("selected", on);
      setAttr(tile.root, "aria-pressed", String(on));
    }
  }

  #activate(event) {
    const root = event.target.closest(".tile");
    if (!root || !this.container.contains(root)) return;
    event.preventDefault();
    this.onSelect(root.dataset.asset);
  }

  #line(line) {
    let entry = this.lines.get(line);
    if (!entry) {
      const section = document.createElement("section");
      section.className = "line";
      section.dataset.line = line;
      const heading = document.createElement("h2");
      heading.className = "line-title";
      heading.textContent = inPlant(line);
      const body = document.createElement("div");
      body.className = "line-tiles";
      section.append(heading, body);
      entry = { section, body };
      this.lines.set(line, entry);
    }
    return entry;
  }

  #tile(asset) {
    let tile = this.tiles.get(asset);
    if (!tile) {
      const root = this.template.content.firstElementChild.cloneNode(true);
      root.dataset.asset = asset;
      const part = (name) => root.querySelector(`.tile-${name}`);
      const names = [
        "name",
        "state",
        "since",
        "oee-value",
        "oee-label",
        "a",
        "p",
        "q",
        "produced",
        "scrap",
        "alerts",
      ];
      tile = { root, parts: Object.fromEntries(names.map((n) => [n, part(n)])) };
      this.tiles.set(asset, tile);
      if (asset === this.selected) this.select(asset);
    }
    return tile;
  }

  #fill(tile, machine, now) {
    const { root, parts } = tile;
    const oee = machine.oee ?? {};
    const category = stateCategory(machine.code, machine.state);
    setAttr(root, "data-category", category);
    setAttr(root, "title", machine.asset);
    setText(parts.name, machine.name ?? machine.asset.split("/").pop());
    setText(parts.state, machine.state ? humanize(machine.state) : "No data");
    const inState = isNumber(machine.since) && isNumber(now) ? now - machine.since : null;
    setText(parts.since, formatDuration(inState));
    setText(parts["oee-value"], formatPercent(oee.oee));
    setText(parts["oee-label"], this.oeeLabel);
    setText(parts.a, formatPercent(oee.availability));
    setText(parts.p, formatPercent(oee.performance));
    setText(parts.q, formatPercent(oee.quality));
    setText(parts.produced, formatCount(oee.produced));
    setText(parts.scrap, formatCount(oee.scrap));
    root.classList.toggle("has-scrap", isNumber(oee.scrap) && oee.scrap > 0);
    const alerts = machine.alerts ?? 0;
    parts.alerts.hidden = alerts === 0;
    setText(parts.alerts, alerts === 1 ? "1 alert" : `${alerts} alerts`);
    setAttr(parts.alerts, "title", machine.last_alert ?? "");
  }

  #prune(seenAssets, seenLines) {
    for (const [asset, tile] of this.tiles) {
      if (!seenAssets.has(asset)) {
        tile.root.remove();
        this.tiles.delete(asset);
      }
    }
    for (const [line, entry] of this.lines) {
      if (!seenLines.has(line)) {
        entry.section.remove();
        this.lines.delete(line);
      }
    }
  }
}
