// The ops dashboard: polls GET /v1/dashboard every few seconds for the panels (narrowed
// by the filter in the address bar's query: ?from=&to=&owner=&firm=), follows
// GET /v1/events/stream for the live events. The address bar's hash is the view:
// #/leads/<id> a lead's timeline, #/leads?<lead list parameters> the leads behind a
// chart's bar or segment. No build step: ES modules, Chart.js vendored as a global.
//   shell.js   state, token, API calls, the filter in the address bar, formats
//   panels.js  the charts, their numbers, empty panels' reasons, click-through
//   leads.js   the lead list, a lead's timeline, the search; the hash's views
//   live.js    the live event stream
//   backtests.js  the backtests that finished: a before/after chart of the one chosen
//   app.js     the filter bar, the token dialog, start

import { refreshBacktests } from "./backtests.js";
import { route } from "./leads.js";
import { follow } from "./live.js";
import { refresh } from "./panels.js";
import { $, TOKEN_KEY, askToken, currentFilter, state, takeToken } from "./shell.js";

const REFRESH_MS = 5000;
const BACKTESTS_REFRESH_MS = 15000;

$("token-form").addEventListener("submit", () => {
  state.token = $("token-input").value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  start();
});

// --- the filter bar: the address bar's query shown and set -------------------------------

function dayBefore(iso) {
  const day = new Date(`${iso}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() - 1);
  return day.toISOString().slice(0, 10);
}

function dayAfter(iso) {
  const day = new Date(`${iso}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + 1);
  return day.toISOString().slice(0, 10);
}

function showFilter() {
  const filter = currentFilter();
  $("filter-from").value = filter.get("from") || "";
  // The form's "to" is the last day included; the API's is the first day left out.
  const to = filter.get("to") || "";
  $("filter-to").value = /^\d{4}-\d{2}-\d{2}$/.test(to) ? dayBefore(to) : to;
  $("filter-owner").value = filter.get("owner") || "";
  $("filter-firm").value = filter.get("firm") || "";
}

function setFilter(filter) {
  const query = filter.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}` +
    window.location.hash);
  showFilter();
  refresh();
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  const filter = new URLSearchParams();
  const from = $("filter-from").value;
  const to = $("filter-to").value;
  if (from) filter.set("from", from);
  if (to) filter.set("to", dayAfter(to));
  for (const name of ["owner", "firm"]) {
    const value = $(`filter-${name}`).value.trim();
    if (value) filter.set(name, value);
  }
  setFilter(filter);
});

$("filter-clear").addEventListener("click", () => setFilter(new URLSearchParams()));

window.addEventListener("hashchange", () => state.token && route());

// --- start ---------------------------------------------------------------------------

async function start() {
  showFilter();
  route();
  await refresh();
  await refreshBacktests();
  if (!state.started) {
    setInterval(() => state.token && refresh(), REFRESH_MS);
    setInterval(() => state.token && refreshBacktests(), BACKTESTS_REFRESH_MS);
  }
  state.started = true;
  if (!state.following && state.token) follow();
}

state.token = takeToken();
if (state.token) start();
else askToken();
