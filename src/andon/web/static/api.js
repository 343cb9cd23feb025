// Client for andon's JSON API, on the page's own origin (never another host: plants are
// air-gapped, and the page's Content-Security-Policy would block it anyway).
//
// Reads are sent with `cache: "no-cache"`: the browser revalidates with If-None-Match and the
// API answers 304 when nothing changed, so a refresh after each live tick costs little.
// Writes carry the session's CSRF token. A 401 sends the browser to the sign-in page.

const API_BASE = document.querySelector('meta[name="andon-api"]')?.content || "/api/v1";

// A hung connection must turn the live indicator red, not freeze the board.
const TIMEOUT_MS = 8000;

let csrfToken = null;

/** The CSRF token of this session (from /auth/me or /auth/login); sent with every write. */
export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** An API call failed; `status` is 0 when the server could not be reached at all. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** The URL of an API path (also for EventSource and downloads). */
export function apiUrl(path, params = {}) {
  const url = new URL(API_BASE + path, window.location.href);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") {
      url.searchParams.set(key, String(value));
    }
  }
  return url;
}

/** Where the sign-in page is, coming back to this page afterwards. */
export function loginUrl() {
  const here = window.location.pathname + window.location.search;
  const url = new URL("login", new URL(".", window.location.href));
  url.searchParams.set("next", here);
  return url;
}

async function send(url, init) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    return await fetch(url, { ...init, signal: controller.signal, credentials: "same-origin" });
  } catch (err) {
    const timedOut = err?.name === "AbortError";
    throw new ApiError(timedOut ? "API timed out" : "API unreachable", 0);
  } finally {
    clearTimeout(timer);
  }
}

async function parse(response) {
  const body = await response.json().catch(() => null);
  if (response.status === 401 && !window.location.pathname.endsWith("/login")) {
    window.location.assign(loginUrl());
  }
  if (!response.ok) {
    // Errors are {"error": {"type", "message"}}; a proxy's HTML error page is not.
    const message = body?.error?.message ?? `HTTP ${response.status}`;
    throw new ApiError(message, response.status);
  }
  return body;
}

/** GET `path` under the API base with query `params`; resolves to the parsed JSON body. */
export async function getJson(path, params = {}, { cache = "no-cache" } = {}) {
  const headers = { Accept: "application/json" };
  return parse(await send(apiUrl(path, params), { headers, cache }));
}

/** POST/PUT/PATCH/DELETE `body` as JSON; resolves to the parsed answer (null for 204). */
export async function sendJson(method, path, body = undefined) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await send(apiUrl(path), init);
  if (response.status === 204) return null;
  return parse(response);
}

export const api = {
  health: () => getJson("/health"),
  // The overview changes with every tick: no point revalidating it.
  overview: (windowS, shift) =>
    getJson("/overview", { window_s: windowS, shift }, { cache: "no-store" }),
  assets: () => getJson("/assets"),
  tags: (asset) => getJson("/tags", { asset }),
  states: (asset, from, to, points) => getJson("/states", { asset, from, to, points }),
  series: (tag, from, to, bucketS) => getJson("/series", { tag, from, to, bucket: bucketS }),
  seriesPoints: (tag, from, to, points) => getJson("/series", { tag, from, to, points }),
  oee: (asset, from, to) => getJson("/oee", { asset, from, to }),
  kpis: (asset, from, to, by) => getJson("/kpis", { asset, from, to, by }),
  downtime: (asset, from, to, micro) => getJson("/downtime", { asset, from, to, micro }),
  reasons: () => getJson("/reasons"),
  orders: (status) => getJson("/orders", { status }),
  machineHealth: (asset) => getJson(`/health/${asset}`),
  alerts: (open) => getJson("/alerts", { open }),
  models: () => getJson("/ml/models"),
  defects: (asset, from, to) => getJson("/quality/pareto", { asset, from, to }),
  spcTag: (asset, tag, from, to) => getJson("/spc", { asset, tag, from, to, chart: "imr" }),
  spcScrap: (asset, from, to) => getJson("/spc/scrap", { asset, from, to, chart: "p" }),
  order: (id) => getJson(`/orders/${encodeURIComponent(id)}`),
  nextShift: (line) => getJson("/forecast/next-shift", { line }),
  importOrders: (from, to) =>
    sendJson("POST", `/orders/import?${new URLSearchParams({ from, to })}`),
  annotate: (asset, pieces) => sendJson("POST", "/downtime/annotations", { asset, pieces }),
  me: () => getJson("/auth/me", {}, { cache: "no-store" }),
  login: (body) => sendJson("POST", "/auth/login", body),
  logout: () => sendJson("POST", "/auth/logout"),
};
