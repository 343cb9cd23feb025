// The strip of measuring stations above the machine tiles (a plant's ambient station):
// work units with readings but no states, counts or OEE, so they get no machine tile.
// Updated in place from the overview's `stations`, like the tiles.

import { formatDateTime, inPlant, isNumber } from "./format.js";
import { placeAt, setAttr, setText } from "./dom.js";

/** A reading with at most one decimal ("24.1", "1,250") and its unit. */
function formatReading(value, unit) {
  if (!isNumber(value)) return "—";
  const number = value.toLocaleString(undefined, { maximumFractionDigits: 1 });
  return unit ? `${number} ${unit}` : number;
}

export class StationStrip {
  /** @param {HTMLElement} container  the #stations element (hidden while there are none) */
  constructor(container) {
    this.container = container;
    this.stations = new Map(); // asset -> {root, readings: Map(tag -> {root, value})}
  }

  /** Show the overview's stations, sorted by path; hide the strip when there are none. */
  update(stations) {
    const sorted = [...stations].sort((a, b) => a.asset.localeCompare(b.asset));
    const seen = new Set(sorted.map((s) => s.asset));
    for (const [asset, entry] of this.stations) {
      if (!seen.has(asset)) {
        entry.root.remove();
        this.stations.delete(asset);
      }
    }
    sorted.forEach((station, index) => {
      const entry = this.#station(station.asset);
      this.#fill(entry, station.readings ?? []);
      placeAt(this.container, entry.root, index);
    });
    this.container.hidden = sorted.length === 0;
  }

  #station(asset) {
    let entry = this.stations.get(asset);
    if (!entry) {
      const root = document.createElement("div");
      root.className = "station";
      root.dataset.asset = asset;
      root.title = asset;
      const name = document.createElement("span");
      name.className = "station-name";
      name.textContent = inPlant(asset);
      const list = document.createElement("span");
      list.className = "station-readings";
      root.append(name, list);
      entry = { root, list, readings: new Map() };
      this.stations.set(asset, entry);
    }
    return entry;
  }

  #fill(entry, readings) {
    const sorted = [...readings].sort((a, b) => a.tag.localeCompare(b.tag));
    const tags = new Set(sorted.map((r) => r.tag));
    for (const [tag, reading] of entry.readings) {
      if (!tags.has(tag)) {
        reading.root.remove();
        entry.readings.delete(tag);
      }
    }
    sorted.forEach((reading, index) => {
      let shown = entry.readings.get(reading.tag);
      if (!shown) {
        // A link to the tag explorer: the reading's trend is one click away.
        const root = document.createElement("a");
        root.className = "station-reading";
        root.dataset.tag = reading.tag;
        const name = document.createElement("span");
        name.className = "station-tag";
        name.textContent = reading.tag;
        const value = document.createElement("span");
        value.className = "station-value";
        root.append(name, value);
        shown = { root, value };
        entry.readings.set(reading.tag, shown);
      }
      setAttr(shown.root, "href", `tags?tag=${encodeURIComponent(reading.tag_id)}`);
      setAttr(shown.root, "title", `${reading.tag} at ${formatDateTime(reading.ts)}`);
      setAttr(shown.root, "data-ts", String(reading.ts));
      setText(shown.value, formatReading(reading.value, reading.unit));
      placeAt(entry.list, shown.root, index);
    });
  }
}
