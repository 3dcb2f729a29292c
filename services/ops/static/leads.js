// The lead views, named by the address bar's hash: #/leads/<id> a lead's timeline (in the
// pipeline's order, from GET /v1/leads/<id>), #/leads?<parameters> the lead list behind a
// chart (GET /v1/leads); and the search box.

import { $, Unauthorized, api, money, state } from "./shell.js";

const LEAD_URL = /^#\/leads\/([0-9a-fA-F-]{36})$/;

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

export async function openLead(leadId) {
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
export function route() {
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
