// Number and time formatting for the board. Pure functions, no DOM.

const DASH = "—";

/** True for a finite number; null, undefined and NaN are "no value". */
export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * A ratio (0..1) as a whole percentage. An undefined ratio (no planned time, nothing
 * produced) shows a dash: showing 100 % for "no data" would flatter the line.
 * Values above 100 % are shown as they are, so a wrong ideal cycle time is visible.
 */
export function formatPercent(ratio) {
  return isNumber(ratio) ? `${Math.round(ratio * 100)}%` : DASH;
}

/** A piece count with thousands separators. */
export function formatCount(value) {
  return isNumber(value) ? Math.round(value).toLocaleString() : DASH;
}

/** A duration for "time in state": 45s, 12m 04s, 3h 12m, 2d 04h. */
export function formatDuration(ms) {
  if (!isNumber(ms)) return DASH;
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** Epoch ms as local wall time, "2025-11-21 14:03:07" (what the floor's clocks show). */
export function formatDateTime(ms) {
  if (!isNumber(ms)) return DASH;
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Epoch ms as local time of day, "14:03:07". */
export function formatTime(ms) {
  return isNumber(ms) ? formatDateTime(ms).slice(11) : DASH;
}

/** "micro_stop" -> "Micro stop": state names from the API, made readable. */
export function humanize(name) {
  if (!name) return DASH;
  const text = String(name).replace(/[_-]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** An asset path without enterprise and site, which the header shows:
 * "acme/plant1/machining/line1" -> "machining / line1". */
export function inPlant(path) {
  const parts = path.split("/");
  return (parts.length > 2 ? parts.slice(2) : parts).join(" / ");
}
