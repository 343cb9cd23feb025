// Client for andon's JSON API, on the page's own origin (never another host: plants are
// air-gapped, and the page's Content-Security-Policy would block it anyway).

const API_BASE = document.querySelector('meta[name="andon-api"]')?.content || "/api/v1";

// A hung connection must turn the live indicator red, not freeze the board.
const TIMEOUT_MS = 8000;

/** An API call failed; `status` is 0 when the server could not be reached at all. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

function buildUrl(path, params) {
  const url = new URL(API_BASE + path, window.location.href);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  return url;
}

async function send(url) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    return await fetch(url, {
      signal: controller.signal,
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
  } catch (err) {
    const timedOut = err?.name === "AbortError";
    throw new ApiError(timedOut ? "API timed out" : "API unreachable", 0);
  } finally {
    clearTimeout(timer);
  }
}

/** GET `path` under the API base with query `params`; resolves to the parsed JSON body. */
export async function getJson(path, params = {}) {
  const response = await send(buildUrl(path, params));
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    // Errors are {"error": {"type", "message"}}; a proxy's HTML error page is not.
    const message = body?.error?.message ?? `HTTP ${response.status}`;
    throw new ApiError(message, response.status);
  }
  return body;
}

export const api = {
  health: () => getJson("/health"),
  overview: (windowS) => getJson("/overview", { window_s: windowS }),
  assets: () => getJson("/assets"),
  tags: (asset) => getJson("/tags", { asset }),
  states: (asset, from, to) => getJson("/states", { asset, from, to }),
  series: (tag, from, to, bucketS) =>
    getJson("/series", { tag, from, to, bucket: bucketS }),
};
