// The one live connection of a page: Server-Sent Events from /api/v1/live.
//
// The server sends `tick` {latest_ts, now} whenever new data has arrived (checked once a
// second for all screens at once) and ends each stream after a few seconds; EventSource
// reconnects by itself. Pages refresh what they show on ticks instead of polling on timers.

import { apiUrl } from "./api.js";
import { formatDuration } from "./format.js";

// A reconnect normally takes about a second: only say "offline" when it takes longer.
const OFFLINE_AFTER_MS = 5000;
// The API answers but the newest data point has not moved for this long: say so, since a
// board of frozen green tiles looks exactly like a healthy line.
const STALE_AFTER_MS = 60000;
const CHECK_MS = 1000;

export class LiveStream {
  /**
   * @param {object} handlers
   * @param {(tick: {latest_ts: number|null, now: number}) => void} handlers.onTick
   * @param {(state: string, text: string) => void} handlers.onStatus  ok|stale|error|connecting
   * @param {Record<string, (data: any) => void>} [handlers.events]  other event kinds
   */
  constructor({ onTick, onStatus, events = {} }) {
    this.onTick = onTick;
    this.onStatus = onStatus;
    this.events = events;
    this.source = null;
    this.openSince = null; // performance.now() of the last open, null while closed
    this.closedSince = performance.now();
    this.lastTickAt = null; // when latest_ts last moved
    this.latestTs = undefined;
    this.ticks = 0;
    this.serverError = null;
  }

  start() {
    this.source = new EventSource(apiUrl("/live"));
    this.source.addEventListener("open", () => {
      this.openSince = performance.now();
      this.closedSince = null;
      this.#report();
    });
    this.source.addEventListener("error", () => {
      if (this.closedSince === null) this.closedSince = performance.now();
      this.openSince = null;
      this.#report();
    });
    this.source.addEventListener("tick", (event) => this.#tick(JSON.parse(event.data)));
    this.source.addEventListener("status", (event) => {
      const status = JSON.parse(event.data);
      this.serverError = status.ok ? null : status.message;
      this.#report();
    });
    for (const [kind, handler] of Object.entries(this.events)) {
      this.source.addEventListener(kind, (event) => handler(JSON.parse(event.data)));
    }
    setInterval(() => this.#report(), CHECK_MS);
    this.#report();
  }

  #tick(tick) {
    this.ticks += 1;
    document.body.dataset.ticks = String(this.ticks);
    this.serverError = null;
    if (tick.latest_ts !== this.latestTs) this.lastTickAt = performance.now();
    this.latestTs = tick.latest_ts;
    this.#report();
    this.onTick(tick);
  }

  #report() {
    const now = performance.now();
    if (this.serverError) return this.onStatus("error", this.serverError);
    if (this.openSince === null) {
      const down = now - (this.closedSince ?? now);
      if (this.ticks === 0) return this.onStatus("connecting", "connecting…");
      if (down < OFFLINE_AFTER_MS) return this.onStatus("ok", "live");
      return this.onStatus("error", "offline: reconnecting…");
    }
    if (this.latestTs === null) return this.onStatus("stale", "live · no data yet");
    const still = this.lastTickAt === null ? 0 : now - this.lastTickAt;
    if (still > STALE_AFTER_MS) {
      return this.onStatus("stale", `no new data for ${formatDuration(still)}`);
    }
    return this.onStatus("ok", "live");
  }
}
