// The dashboard's plumbing, shared by its modules: the page's state, the ops token (taken
// from ?token= once, kept for the tab), calls to the ops API, the filter in the address
// bar's query (?from=&to=&owner=&firm=, as the API takes it) and number formats.

export const TOKEN_KEY = "leadflow.ops.token";
const FILTERS = ["from", "to", "owner", "firm"];

export const state = {
  token: null, charts: {}, lastEventId: null, started: false, following: false, openLead: null,
  board: null, owners: new Set(), firms: new Set(), backtest: null,
};
export const $ = (id) => document.getElementById(id);

// --- the token: ?token= once (then removed from the address bar), kept for the tab ------

export function takeToken() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function askToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  $("token-error").textContent = message || "";
  if (!$("token-dialog").open) $("token-dialog").showModal();
}

export class Unauthorized extends Error {}

export class Refused extends Error {
  constructor(path, status, problem) {
    super((problem && problem.detail) || `${path}: HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${state.token}` };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    askToken("That token was not accepted.");
    throw new Unauthorized(path);
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new Refused(path, response.status, problem);
  }
  return response;
}

// --- the filter as the API takes it (`to` exclusive), from the address bar ---------------

export function currentFilter() {
  const query = new URLSearchParams(window.location.search);
  const filter = new URLSearchParams();
  for (const name of FILTERS) if (query.get(name)) filter.set(name, query.get(name));
  return filter;
}

export function withFilter(path) {
  const filter = currentFilter().toString();
  if (!filter) return path;
  return `${path}${path.includes("?") ? "&" : "?"}${filter}`;
}

// --- formats ---------------------------------------------------------------------------

export function hhmm(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function money(value) {
  return Number(value).toLocaleString(undefined, { minimumFractionDigits: 2 });
}
