// The ops dashboard: polls GET /v1/dashboard every few seconds for the panels (narrowed
// by the filter in the address bar's query: ?from=&to=&owner=&firm=), follows
// GET /v1/events/stream (Server-Sent Events, read with fetch so the token travels in a
// header) for the live events. The address bar's hash is the view: #/leads/<id> a lead's
// timeline, #/leads?<lead list parameters> the leads behind a chart's bar or segment.
"use strict";

const TOKEN_KEY = "leadflow.ops.token";
const REFRESH_MS = 5000;
const FILTERS = ["from", "to", "owner", "firm"];
const COLORS = ["#38bdf8", "#a78bfa", "#4ade80", "#fbbf24", "#f87171", "#f472b6", "#2dd4bf",
  "#fb923c", "#94a3b8", "#818cf8"];
const STEPS = [["received", "received"], ["accepted", "accepted"],
  ["meeting_held", "meeting held"], ["credited", "credited"], ["won", "won"]];
const STATE_COLORS = { credited: "#4ade80", pending: "#fbbf24", not_eligible: "#94a3b8",
  void: "#f87171", disputed: "#f472b6", reversed: "#fb923c" };
const SLA_EVENTS = ["sla_reminder", "sla_breached", "reassigned"];
const BUCKET_MS = { minute: 60e3, hour: 3600e3, day: 86400e3 };
const LEAD_URL = /^#\/leads\/([0-9a-fA-F-]{36})$/;

const state = {
  token: null, charts: {}, lastEventId: null, started: false, following: false, openLead: null,
  board: null, owners: new Set(), firms: new Set(),
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

class Refused extends Error {
  constructor(path, status, problem) {
    super((problem && problem.detail) || `${path}: HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function api(path, options = {}) {
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

// --- the filter: the address bar's query, the form, the API's parameters ----------------

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

// The filter as the API takes it (`to` exclusive), from the address bar.
function currentFilter() {
  const query = new URLSearchParams(window.location.search);
  const filter = new URLSearchParams();
  for (const name of FILTERS) if (query.get(name)) filter.set(name, query.get(name));
  return filter;
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

function withFilter(path) {
  const filter = currentFilter().toString();
  if (!filter) return path;
  return `${path}${path.includes("?") ? "&" : "?"}${filter}`;
}

function remember(datalist, seen, values) {
  let added = false;
  for (const value of values) {
    if (value && !seen.has(value)) {
      seen.add(value);
      added = true;
    }
  }
  if (!added) return;
  $(datalist).replaceChildren(...[...seen].sort().map((value) => {
    const option = document.createElement("option");
    option.value = value;
    return option;
  }));
}

// --- charts -------------------------------------------------------------------------

Chart.defaults.color = "#94a3b8";
Chart.defaults.borderColor = "#22304f";
Chart.defaults.animation = { duration: 300 };
Chart.defaults.maintainAspectRatio = false;

// Numbers drawn on the charts: a doughnut's count on each segment big enough to hold it,
// and a burst's true total at the top of a bar the clipped axis cut.
const valueLabels = {
  id: "valueLabels",
  afterDatasetsDraw(chart) {
    const { ctx, chartArea } = chart;
    ctx.save();
    ctx.font = "600 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    if (chart.config.type === "doughnut") {
      const values = chart.data.datasets[0].data;
      const total = values.reduce((a, b) => a + b, 0);
      chart.getDatasetMeta(0).data.forEach((arc, i) => {
        if (!total || values[i] / total < 0.04) return;
        const at = arc.tooltipPosition();
        ctx.fillStyle = "#04111f";
        ctx.fillText(String(values[i]), at.x, at.y);
      });
    } else {
      const top = chart.options.scales.y.max;
      if (top === undefined) return ctx.restore();
      const totals = chart.data.labels.map((_, i) =>
        chart.data.datasets.reduce((sum, set) => sum + (set.data[i] || 0), 0));
      const meta = chart.getDatasetMeta(0);
      totals.forEach((total, i) => {
        if (total <= top || !meta.data[i]) return;
        const x = meta.data[i].x;
        const text = `▲ ${total}`;
        const width = ctx.measureText(text).width + 8;
        ctx.fillStyle = "#f87171";
        ctx.fillRect(x - width / 2, chartArea.top, width, 16);
        ctx.fillStyle = "#04111f";
        ctx.fillText(text, x, chartArea.top + 8);
      });
    }
    ctx.restore();
  },
};

function draw(id, type, data, options = {}, onPick = null) {
  const picking = onPick ? {
    onClick(event, elements, chart) {
      const [hit] = chart.getElementsAtEventForMode(event, "nearest", { intersect: true }, false);
      if (hit) onPick(hit.datasetIndex, hit.index);
    },
    onHover(event, elements, chart) {
      chart.canvas.style.cursor = elements.length ? "pointer" : "default";
    },
  } : {};
  const full = { ...options, ...picking };
  const existing = state.charts[id];
  if (existing) {
    existing.data = data;
    existing.options = full;
    existing.update();
  } else {
    state.charts[id] = new Chart($(id), { type, data, options: full, plugins: [valueLabels] });
  }
  const filled = data.datasets.some((set) => set.data.some((value) => value > 0));
  $(id).closest(".panel").dataset.filled = String(filled);
}

// Each empty panel says why (the API's `empty`), over its empty chart.
function why(panel, reasons) {
  const reason = reasons[panel];
  $(`${panel}-why`).hidden = !reason;
  $(`${panel}-why`).textContent = reason || "";
}

function hhmm(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function bucketLabel(iso, bucket) {
  const utc = new Date(iso).toISOString();
  if (bucket === "minute") return utc.slice(11, 16);
  if (bucket === "hour") return `${utc.slice(5, 10)} ${utc.slice(11, 13)}h`;
  return utc.slice(0, 10);
}

function money(value) {
  return Number(value).toLocaleString(undefined, { minimumFractionDigits: 2 });
}

function windowOf(panel) {
  const span = state.board.windows[panel];
  return { from: span.start, to: span.end };
}

// The leads behind a chart's bar or segment: the lead list's view, with the panel's
// window and the dashboard's owner and firm unless the bar names its own.
function leadsBehind(params) {
  const filter = currentFilter();
  const query = new URLSearchParams();
  for (const name of ["owner", "firm"]) if (filter.get(name)) query.set(name, filter.get(name));
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  window.location.hash = `#/leads?${query}`;
}

function renderFlow(flow) {
  const top = flow.axis_max ?? undefined;
  draw("flow", "bar", {
    labels: flow.buckets.map((start) => bucketLabel(start, flow.bucket)),
    datasets: flow.channels.map((series, i) => ({
      label: series.name, data: series.values, backgroundColor: COLORS[i % COLORS.length],
    })),
  }, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, max: top } } },
  (set, i) => {
    const start = new Date(flow.buckets[i]);
    leadsBehind({
      event: "received", channel: flow.channels[set].name, from: start.toISOString(),
      to: new Date(start.getTime() + BUCKET_MS[flow.bucket]).toISOString(),
    });
  });
  $("flow-bucket").textContent = flow.bucket;
  const note = $("flow-note");
  note.hidden = top === undefined;
  if (top !== undefined) {
    const bursts = flow.buckets.map((start, i) => [start,
      flow.channels.reduce((sum, series) => sum + series.values[i], 0)])
      .filter(([, total]) => total > top)
      .map(([start, total]) => `${total} at ${bucketLabel(start, flow.bucket)}`);
    note.textContent = `Axis clipped at ${top} so one burst does not flatten the rest; ` +
      `bursts (▲): ${bursts.join(", ")}.`;
  }
}

function renderRouting(byRule, byOwner) {
  const total = byRule.reduce((sum, c) => sum + c.count, 0);
  draw("rules", "doughnut", {
    labels: byRule.map((c) => `${c.name}: ${c.count} (${Math.round((100 * c.count) / total)}%)`),
    datasets: [{ data: byRule.map((c) => c.count), backgroundColor: COLORS }],
  }, { plugins: { legend: { position: "right" } } }, (_, i) => {
    if (byRule[i].name !== "unknown") {
      leadsBehind({ event: "routed", rule: byRule[i].name, ...windowOf("routing") });
    }
  });
  draw("owners", "bar", {
    labels: byOwner.map((c) => c.name),
    datasets: [{ label: "leads routed", data: byOwner.map((c) => c.count),
      backgroundColor: COLORS[1] }],
  }, { indexAxis: "y", plugins: { legend: { display: false } } }, (_, i) => {
    if (byOwner[i].owner_id) {
      leadsBehind({ event: "routed", owner: byOwner[i].owner_id, ...windowOf("routing") });
    }
  });
}

function renderSla(owners) {
  draw("sla", "bar", {
    labels: owners.map((o) => o.owner_id),
    datasets: [
      { label: "reminders", data: owners.map((o) => o.reminders), backgroundColor: "#fbbf24" },
      { label: "breaches", data: owners.map((o) => o.breaches), backgroundColor: "#f87171" },
      { label: "reassignments", data: owners.map((o) => o.reassignments),
        backgroundColor: "#a78bfa" },
    ],
  }, { scales: { y: { beginAtZero: true } } }, (set, i) => {
    if (owners[i].owner_id !== "unknown") {
      leadsBehind({ event: SLA_EVENTS[set], owner: owners[i].owner_id, ...windowOf("sla") });
    }
  });
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
  }, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }, (set, i) => {
    leadsBehind({ event: "credit", firm: firms[i].firm_id, state: states[set],
      ...windowOf("credit") });
  });
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
  }, { scales: { y: { beginAtZero: true } } }, (_, i) => {
    leadsBehind({ event: "received", channel: top[i].channel, campaign: top[i].campaign,
      ...windowOf("funnel") });
  });
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
    const board = await (await api(withFilter("/v1/dashboard"))).json();
    state.board = board;
    $("filter-error").hidden = true;
    for (const small of document.querySelectorAll("[data-window]")) {
      small.textContent = board.windows[small.dataset.window].label;
    }
    renderFlow(board.flow);
    renderRouting(board.routing_by_rule, board.routing_by_owner);
    renderSla(board.sla);
    renderCredit(board.credit);
    renderFunnel(board.funnel);
    renderLag(board.lag);
    for (const panel of ["flow", "rules", "owners", "sla", "credit", "funnel", "lag"]) {
      why(panel, board.empty);
    }
    remember("owners-seen", state.owners, board.routing_by_owner.map((c) => c.owner_id));
    remember("firms-seen", state.firms, board.credit.map((f) => f.firm_id));
    const { from, to, owner, firm } = board.filter;
    $("filter-said").textContent = from || to || owner || firm ? `showing ${[
      from || to ? board.windows.routing.label : "each panel's own window",
      owner && `owner ${owner}`, firm && `firm ${firm}`].filter(Boolean).join(" · ")}` : "";
    $("totals").textContent =
      `${board.events_logged.toLocaleString()} events logged · updated ${hhmm(board.generated_at)}`;
    // The live list opens with the latest events, then follows.
    if (state.lastEventId === null) state.lastEventId = String(Math.max(0, board.events_logged - 25));
  } catch (error) {
    if (error instanceof Refused && error.status === 422) {
      $("filter-error").hidden = false;
      $("filter-error").textContent = `Filter not applied: ${error.message}`;
    } else if (!(error instanceof Unauthorized)) {
      $("totals").textContent = `not updated: ${error.message}`;
    }
  }
}

$("funnel-csv").addEventListener("click", async (event) => {
  event.preventDefault();
  const blob = await (await api(withFilter("/v1/reports/funnel?format=csv"))).blob();
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
  if (data.lead_id) {
    item.dataset.leadId = data.lead_id;
    item.addEventListener("click", () => { window.location.hash = `#/leads/${data.lead_id}`; });
  }
  $("events").prepend(item);
  $("events-why").hidden = true;
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

// --- leads: the search, the list behind a chart, a lead's timeline ------------------------

function leadItems(list, leads) {
  for (const lead of leads) {
    const item = document.createElement("li");
    item.dataset.leadId = lead.lead_id;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = [lead.company, lead.channel, lead.campaign, lead.firm_id,
      new Date(lead.received_at).toLocaleString()].filter(Boolean).join(" · ");
    const link = document.createElement("a");
    link.href = `#/leads/${lead.lead_id}`;
    link.textContent = `${lead.name || ""} <${lead.email}>`;
    item.append(link, meta);
    item.addEventListener("click", (event) => {
      if (event.target !== link) window.location.hash = link.hash;
    });
    list.append(item);
  }
}

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
  leadItems(list, found.leads);
});

const EVENT_SAYS = { received: "received", routed: "routed", sla_reminder: "reminded (SLA)",
  sla_breached: "past their SLA", reassigned: "reassigned after their SLA",
  credit: "by their latest credit decision" };

function whenSaid(from, to) {
  const at = (iso) => (/^\d{4}-\d{2}-\d{2}$/.test(iso) ? iso
    : new Date(iso).toISOString().slice(0, 16).replace("T", " "));
  if (from && to) return `${at(from)} to ${at(to)} UTC`;
  if (from) return `since ${at(from)} UTC`;
  return to ? `before ${at(to)} UTC` : "any time";
}

function showPanel(title) {
  $("lead-panel").hidden = false;
  $("lead-panel-title").textContent = title;
  $("lead-panel").scrollIntoView({ block: "start" });
}

async function openLeadList(query) {
  state.openLead = null;
  $("timeline").hidden = true;
  const params = new URLSearchParams(query);
  const event = params.get("event") || "received";
  const said = [`Leads ${EVENT_SAYS[event] || event}`];
  for (const name of ["rule", "state", "channel", "campaign", "owner", "firm"]) {
    if (params.get(name)) said.push(`${name} ${params.get(name).replaceAll("_", " ")}`);
  }
  said.push(whenSaid(params.get("from"), params.get("to")));
  showPanel(said.join(" · "));
  const list = $("leads-list");
  list.replaceChildren();
  delete list.dataset.total;
  list.hidden = false;
  $("lead-panel-said").textContent = "loading…";
  try {
    params.set("limit", "100");
    const found = await (await api(`/v1/leads?${params}`)).json();
    $("lead-panel-said").textContent = found.total === 0
      ? "No leads match: the chart may have moved on since the click."
      : `${found.total} lead${found.total === 1 ? "" : "s"}` +
        (found.total > found.leads.length ? `, the newest ${found.leads.length} shown` : "") +
        ": choose one for its timeline.";
    list.dataset.total = String(found.total);
    leadItems(list, found.leads);
  } catch (error) {
    if (!(error instanceof Unauthorized)) $("lead-panel-said").textContent = error.message;
  }
}

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
  const first = state.openLead !== leadId;
  state.openLead = leadId;
  $("leads-list").hidden = true;
  if (first) {
    showPanel("Lead timeline");
    $("lead-panel-said").textContent = "loading…";
    $("timeline").hidden = true;
  }
  let told;
  try {
    told = await (await api(`/v1/leads/${leadId}`)).json();
  } catch (error) {
    if (!(error instanceof Unauthorized)) {
      $("lead-panel-said").textContent = error.message;
      $("timeline").hidden = true;
    }
    return;
  }
  if (state.openLead !== leadId) return;  // another view was opened meanwhile
  $("lead-panel-said").textContent = "In the pipeline's order: intake, router, credit.";
  const head = told.lead;
  $("lead-panel-title").textContent = `Lead ${head.name || head.email || leadId}`;
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
  let latest = null;
  for (const entry of told.events) {
    const item = document.createElement("li");
    item.dataset.type = entry.type;
    item.dataset.seq = String(entry.seq);
    const time = document.createElement("time");
    time.textContent = new Date(entry.time).toLocaleString();
    time.dateTime = entry.time;
    // Told after an event with a later time: credit dated it as of the lead's facts.
    if (latest !== null && new Date(entry.time) < latest) {
      item.classList.add("as-of");
      time.textContent = `as of ${time.textContent}`;
      time.title = "Credit dates a decision as of the lead's facts; it is told after the " +
        "routing revision it followed.";
    } else {
      latest = new Date(entry.time);
    }
    const service = document.createElement("span");
    service.className = "service";
    service.textContent = entry.service;
    item.append(time, service, entry.summary);
    if (Number.isInteger(entry.data.routing_revision)) {
      const follows = document.createElement("span");
      follows.className = "follows";
      follows.textContent = `on routing revision ${entry.data.routing_revision}`;
      item.append(follows);
    }
    if (entry.details.length) {
      const reasons = document.createElement("ul");
      for (const line of entry.details) {
        const li = document.createElement("li");
        li.textContent = line;
        reasons.append(li);
      }
      item.append(reasons);
    }
    list.append(item);
  }
  $("timeline").hidden = false;
}

// The view named by the address bar's hash.
function route() {
  const hash = window.location.hash;
  const lead = LEAD_URL.exec(hash);
  if (lead) return openLead(lead[1].toLowerCase());
  if (hash.startsWith("#/leads?")) return openLeadList(hash.slice("#/leads?".length));
  if (hash.startsWith("#/leads/")) {
    showPanel("Lead timeline");
    $("leads-list").hidden = true;
    $("timeline").hidden = true;
    $("lead-panel-said").textContent = `“${decodeURIComponent(hash.slice(8))}” is not a lead id.`;
    return null;
  }
  state.openLead = null;
  $("lead-panel").hidden = true;
  return null;
}

window.addEventListener("hashchange", () => state.token && route());

// --- start ---------------------------------------------------------------------------

async function start() {
  showFilter();
  route();
  await refresh();
  if (!state.started) setInterval(() => state.token && refresh(), REFRESH_MS);
  state.started = true;
  if (!state.following && state.token) follow();
}

state.token = takeToken();
if (state.token) start();
else askToken();
