// The panels: each chart drawn from GET /v1/dashboard (with the filter), the numbers on
// them (a doughnut's counts, a burst's total), the reason over an empty one, and the
// click that opens the leads behind a bar or segment (#/leads?<lead list parameters>).

import { $, Refused, Unauthorized, api, currentFilter, hhmm, money, state, withFilter }
  from "./shell.js";

const COLORS = ["#38bdf8", "#a78bfa", "#4ade80", "#fbbf24", "#f87171", "#f472b6", "#2dd4bf",
  "#fb923c", "#94a3b8", "#818cf8"];
const STEPS = [["received", "received"], ["accepted", "accepted"],
  ["meeting_held", "meeting held"], ["credited", "credited"], ["won", "won"]];
const STATE_COLORS = { credited: "#4ade80", pending: "#fbbf24", not_eligible: "#94a3b8",
  void: "#f87171", disputed: "#f472b6", reversed: "#fb923c" };
const SLA_EVENTS = ["sla_reminder", "sla_breached", "reassigned"];
const BUCKET_MS = { minute: 60e3, hour: 3600e3, day: 86400e3 };

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

function bucketLabel(iso, bucket) {
  const utc = new Date(iso).toISOString();
  if (bucket === "minute") return utc.slice(11, 16);
  if (bucket === "hour") return `${utc.slice(5, 10)} ${utc.slice(11, 13)}h`;
  return utc.slice(0, 10);
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

export async function refresh() {
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
