// The ops dashboard: polls GET /v1/dashboard every few seconds for the panels, follows
// GET /v1/events/stream (Server-Sent Events, read with fetch so the token travels in a
// header) for the live events, and opens a lead's timeline from the search.
"use strict";

const TOKEN_KEY = "leadflow.ops.token";
const REFRESH_MS = 5000;
const COLORS = ["#38bdf8", "#a78bfa", "#4ade80", "#fbbf24", "#f87171", "#f472b6", "#2dd4bf",
  "#fb923c", "#94a3b8", "#818cf8"];
const STEPS = [["received", "received"], ["accepted", "accepted"],
  ["meeting_held", "meeting held"], ["credited", "credited"], ["won", "won"]];
const STATE_COLORS = { credited: "#4ade80", pending: "#fbbf24", not_eligible: "#94a3b8",
  void: "#f87171", disputed: "#f472b6", reversed: "#fb923c" };

const state = {
  token: null, charts: {}, lastEventId: null, started: false, following: false, openLead: null,
};
const $ = (id) => document.getElementById(id);

// --- the token: ?token= once (then removed from the address bar), kept for the tab ------

function takeToken() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function askToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  $("token-error").textContent = message || "";
  if (!$("token-dialog").open) $("token-dialog").showModal();
}

$("token-form").addEventListener("submit", () => {
  state.token = $("token-input").value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  start();
});

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${state.token}` };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    askToken("That token was not accepted.");
    throw new Unauthorized(path);
  }
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response;
}

// --- charts -------------------------------------------------------------------------

Chart.defaults.color = "#94a3b8";
Chart.defaults.borderColor = "#22304f";
Chart.defaults.animation = { duration: 300 };
Chart.defaults.maintainAspectRatio = false;

function draw(id, type, data, options = {}) {
  const existing = state.charts[id];
  if (existing) {
    existing.data = data;
    existing.update();
  } else {
    state.charts[id] = new Chart($(id), { type, data, options });
  }
  const filled = data.datasets.some((set) => set.data.some((value) => value > 0));
  $(id).closest(".panel").dataset.filled = String(filled);
}

const stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } };

function hhmm(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function money(value) {
  return Number(value).toLocaleString(undefined, { minimumFractionDigits: 2 });
}

function renderFlow(flow) {
  draw("flow", "bar", {
    labels: flow.buckets.map(hhmm),
    datasets: flow.channels.map((series, i) => ({
      label: series.name, data: series.values, backgroundColor: COLORS[i % COLORS.length],
    })),
  }, stacked);
}

function renderRouting(byRule, byOwner) {
  draw("rules", "doughnut", {
    labels: byRule.map((c) => c.name),
    datasets: [{ data: byRule.map((c) => c.count), backgroundColor: COLORS }],
  }, { plugins: { legend: { position: "right" } } });
  draw("owners", "bar", {
    labels: byOwner.map((c) => c.name),
    datasets: [{ label: "leads routed", data: byOwner.map((c) => c.count),
      backgroundColor: COLORS[1] }],
  }, { indexAxis: "y", plugins: { legend: { display: false } } });
}

function renderSla(owners) {
  $("sla-empty").hidden = owners.length > 0;
  draw("sla", "bar", {
    labels: owners.map((o) => o.owner_id),
    datasets: [
      { label: "reminders", data: owners.map((o) => o.reminders), backgroundColor: "#fbbf24" },
      { label: "breaches", data: owners.map((o) => o.breaches), backgroundColor: "#f87171" },
      { label: "reassignments", data: owners.map((o) => o.reassignments),
        backgroundColor: "#a78bfa" },
    ],
  }, { scales: { y: { beginAtZero: true } } });
}

function renderCredit(firms) {
  const states = [...new Set(firms.flatMap((f) => Object.keys(f.decisions)))].sort();
  draw("credit", "bar", {
    labels: firms.map((f) => `${f.firm_id} (${money(f.credited_amount)} credited)`),
    datasets: states.map((name, i) => ({
      label: name.replace("_", " "),
      data: firms.map((f) => f.decisions[name] || 0),
      backgroundColor: STATE_COLORS[name] || COLORS[i % COLORS.length],
    })),
  }, stacked);
}

function cell(row, text) {
  const td = row.insertCell();
  td.textContent = text;
  return td;
}

function renderFunnel(funnel) {
  const top = funnel.rows.slice(0, 10);
  draw("funnel", "bar", {
    labels: top.map((r) => `${r.channel} · ${r.campaign}`),
    datasets: STEPS.map(([key, label], i) => ({
      label, data: top.map((r) => r[key]), backgroundColor: COLORS[i],
    })),
  }, { scales: { y: { beginAtZero: true } } });
  const body = $("funnel-table").tBodies[0];
  body.replaceChildren();
  for (const row of [...funnel.rows, funnel.total]) {
    const tr = body.insertRow();
    cell(tr, row.channel);
    cell(tr, row.campaign);
    for (const [key] of STEPS) {
      const td = cell(tr, row[key]);
      if (key !== "received" && row.received) {
        const rate = document.createElement("span");
        rate.className = "rate";
        rate.textContent = `${Math.round((100 * row[key]) / row.received)}%`;
        td.append(rate);
      }
    }
    cell(tr, money(row.credited_amount));
  }
}

function renderLag(lag) {
  const services = Object.keys(lag.per_service);
  $("lag-error").hidden = !lag.error;
  $("lag-error").textContent = lag.error ? `Lag unknown: ${lag.error}` : "";
  draw("lag", "bar", {
    labels: services,
    datasets: [{ label: "lag (messages)", data: services.map((s) => lag.per_service[s]),
      backgroundColor: COLORS[3] }],
  }, { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } });
  $("lag-panel").dataset.filled = String(services.length > 0);
}

async function refresh() {
  try {
    const board = await (await api("/v1/dashboard")).json();
    renderFlow(board.flow);
    renderRouting(board.routing_by_rule, board.routing_by_owner);
    renderSla(board.sla);
    renderCredit(board.credit);
    renderFunnel(board.funnel);
    renderLag(board.lag);
    $("totals").textContent =
      `${board.events_logged.toLocaleString()} events logged · updated ${hhmm(board.generated_at)}`;
    // The live list opens with the latest events, then follows.
    if (state.lastEventId === null) state.lastEventId = String(Math.max(0, board.events_logged - 25));
  } catch (error) {
    if (!(error instanceof Unauthorized)) $("totals").textContent = `not updated: ${error.message}`;
  }
}

$("funnel-csv").addEventListener("click", async (event) => {
  event.preventDefault();
  const blob = await (await api("/v1/reports/funnel?format=csv")).blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "funnel.csv";
  link.click();
  URL.revokeObjectURL(link.href);
});

// --- the live stream -----------------------------------------------------------------

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

function parseBlock(block) {
  const fields = {};
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const at = line.indexOf(":");
    const name = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    fields[name] = fields[name] === undefined ? value : `${fields[name]}\n${value}`;
  }
  return fields;
}

function showEvent(envelope) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  time.textContent = new Date(envelope.time).toLocaleTimeString();
  const type = document.createElement("span");
  type.className = "type";
  type.textContent = envelope.type.replace(/^leadflow\./, "").replace(/\.v\d+$/, "");
  const about = document.createElement("span");
  const data = envelope.data || {};
  about.textContent = [data.email, data.channel, data.stage, data.status, data.state,
    data.owner && data.owner.name, data.firm_id].filter(Boolean).join(" · ") || envelope.subject;
  item.append(time, type, about);
  $("events").prepend(item);
  while ($("events").children.length > 40) $("events").lastChild.remove();
  if (state.openLead && data.lead_id === state.openLead) openLead(state.openLead);
}

async function follow() {
  state.following = true;
  for (;;) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
      const response = await api("/v1/events/stream", { headers });
      setStatus("live", "live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const fields = parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
          if (fields.id) state.lastEventId = fields.id;
          if (fields.data) showEvent(JSON.parse(fields.data));
        }
      }
    } catch (error) {
      if (error instanceof Unauthorized) {
        state.following = false;
        return;
      }
    }
    setStatus("reconnecting…", "down");
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// --- lead search and timeline --------------------------------------------------------

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = $("search-input").value.trim();
  const found = await (await api(`/v1/leads?q=${encodeURIComponent(q)}`)).json();
  const list = $("search-results");
  list.replaceChildren();
  if (found.leads.length === 0) {
    const none = document.createElement("li");
    none.className = "empty";
    none.textContent = `No lead matches “${q}”.`;
    list.append(none);
  }
  for (const lead of found.leads) {
    const item = document.createElement("li");
    item.dataset.leadId = lead.lead_id;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = [lead.company, lead.channel, lead.campaign, hhmm(lead.received_at)]
      .filter(Boolean).join(" · ");
    item.append(`${lead.name || ""} <${lead.email}>`, meta);
    item.addEventListener("click", () => {
      for (const other of list.children) other.classList.remove("chosen");
      item.classList.add("chosen");
      openLead(lead.lead_id);
    });
    list.append(item);
  }
});

function definition(list, term, value) {
  if (value === null || value === undefined || value === "") return;
  const wrap = document.createElement("div");
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  wrap.append(dt, dd);
  list.append(wrap);
}

async function openLead(leadId) {
  state.openLead = leadId;
  const told = await (await api(`/v1/leads/${leadId}`)).json();
  const head = told.lead;
  const header = document.createElement("dl");
  definition(header, "lead", `${head.name || ""} <${head.email || "?"}>`);
  definition(header, "company", head.company);
  definition(header, "stage", head.stage.replaceAll("_", " "));
  definition(header, "owner", head.owner_name || head.owner_id);
  definition(header, "account", head.account_name || head.account_id);
  definition(header, "firm", head.firm_id);
  definition(header, "channel · campaign", [head.channel, head.campaign].filter(Boolean).join(" · "));
  if (head.credit) {
    definition(header, "credit", `${head.credit.state.replace("_", " ")} ` +
      `${money(head.credit.amount)} ${head.credit.currency} (revision ${head.credit.revision})`);
  }
  definition(header, "lead id", head.lead_id);
  $("timeline-header").replaceChildren(header);
  const list = $("timeline-events");
  list.replaceChildren();
  for (const entry of told.events) {
    const item = document.createElement("li");
    item.dataset.type = entry.type;
    const time = document.createElement("time");
    time.textContent = new Date(entry.time).toLocaleString();
    const service = document.createElement("span");
    service.className = "service";
    service.textContent = entry.service;
    item.append(time, service, entry.summary);
    if (entry.details.length) {
      const why = document.createElement("ul");
      for (const line of entry.details) {
        const li = document.createElement("li");
        li.textContent = line;
        why.append(li);
      }
      item.append(why);
    }
    list.append(item);
  }
  $("timeline").hidden = false;
}

// --- start ---------------------------------------------------------------------------

async function start() {
  await refresh();
  if (!state.started) setInterval(() => state.token && refresh(), REFRESH_MS);
  state.started = true;
  if (!state.following && state.token) follow();
}

state.token = takeToken();
if (state.token) start();
else askToken();
