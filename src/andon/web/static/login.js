// Sign-in: a user name and password, or an API key (wall screens get a viewer key once).
// The answer sets an HttpOnly session cookie; then back to the page that sent us here.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);

/** Only a path on this site: an open redirect would make the sign-in page a phishing aid. */
function nextPage() {
  const next = new URLSearchParams(window.location.search).get("next") ?? "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "./";
}

async function signIn(event, body) {
  event.preventDefault();
  const error = $("login-error");
  error.hidden = true;
  try {
    await api.login(body);
    window.location.assign(nextPage());
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
}

async function start() {
  $("password-form").addEventListener("submit", (event) =>
    signIn(event, { username: $("username").value, password: $("password").value }),
  );
  $("key-form").addEventListener("submit", (event) => signIn(event, { key: $("api-key").value.trim() }));
  const me = await api.me().catch(() => null);
  if (me && (me.authenticated || !me.auth_required)) window.location.assign(nextPage());
}

start();
