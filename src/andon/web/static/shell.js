// What every page shares: the header (plant, data clock, live indicator, user), the sign-in
// check, and the live stream. A page calls `startShell` once and gets ticks.

import { api, loginUrl, setCsrfToken } from "./api.js";
import { formatDateTime, isNumber } from "./format.js";
import { LiveStream } from "./live.js";

const $ = (id) => document.getElementById(id);

function setStatus(state, text) {
  const status = $("status");
  if (status.dataset.state !== state) status.dataset.state = state;
  if ($("status-text").textContent !== text) $("status-text").textContent = text;
}

/** Show the data clock: the newest data point, not the browser's time. */
export function setClock(ms) {
  if (!isNumber(ms)) return;
  const clock = $("clock");
  clock.textContent = formatDateTime(ms);
  clock.dateTime = new Date(ms).toISOString();
}

async function authenticate() {
  const me = await api.me();
  if (me.auth_required && !me.authenticated) {
    window.location.assign(loginUrl());
    return new Promise(() => {}); // the page is leaving
  }
  setCsrfToken(me.csrf_token);
  const user = $("user");
  user.textContent = me.authenticated ? `${me.subject} · ${me.role}` : "";
  user.title = me.authenticated ? "Signed in" : "Auth is not configured: local access";
  $("logout").hidden = !me.authenticated || me.csrf_token === null;
  document.body.dataset.role = me.role ?? "";
  return me;
}

async function signOut() {
  try {
    await api.logout();
  } finally {
    window.location.assign(loginUrl());
  }
}

async function loadHeader() {
  try {
    const [tree, health] = await Promise.all([api.assets(), api.health()]);
    const enterprise = tree[0];
    const site = enterprise?.children?.[0];
    $("plant").textContent = site ? `${enterprise.name} · ${site.name}` : enterprise?.name ?? "—";
    $("version").textContent = health.version ? `v${health.version}` : "";
    setClock(health.latest_ts ?? health.now);
  } catch (err) {
    setStatus("error", err.message);
  }
}

function markNav(page) {
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Asking who we are renews a session past half its life (12 h by default): a wall screen
// left on for weeks stays signed in while its key or user stays valid.
const RENEW_MS = 30 * 60 * 1000;

async function renew() {
  try {
    setCsrfToken((await api.me()).csrf_token);
  } catch {
    // Unreachable now: the live indicator says so; the next round tries again.
  }
}

/** True when the signed-in role is at least `role` (viewer < operator < engineer < admin). */
export function hasRole(role) {
  const order = ["viewer", "operator", "engineer", "admin"];
  return order.indexOf(document.body.dataset.role) >= order.indexOf(role);
}

/**
 * Start the page: check the sign-in, fill the header, open the live stream.
 * @param {object} options
 * @param {string} options.page  the nav entry to highlight
 * @param {(tick: object) => void} [options.onTick]  called on each live tick
 * @param {Record<string, (data: any) => void>} [options.events]  other live events
 */
export async function startShell({ page, onTick = () => {}, events = {} }) {
  markNav(page);
  $("logout").addEventListener("click", signOut);
  const me = await authenticate();
  if (me.csrf_token) setInterval(renew, RENEW_MS);
  loadHeader();
  const live = new LiveStream({
    onTick: (tick) => {
      setClock(tick.latest_ts ?? tick.now);
      onTick(tick);
    },
    onStatus: setStatus,
    events,
  });
  live.start();
  return { me, live };
}
