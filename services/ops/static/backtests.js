// The backtests view: the latest backtests that finished (GET /v1/backtests: a draft rule
// set or contract against past leads), and for the one chosen (the latest at first) a
// before/after chart — each owner's leads for a routing backtest, each month's amount for
// a contract's — and the leads that moved, by rule or by state and amount.

import { $, Unauthorized, api, money, state } from "./shell.js";

const BEFORE = "#94a3b8";
const AFTER = "#38bdf8";

function said(backtest) {
  const what = backtest.kind === "routing"
    ? `rule set ${backtest.backtested}`
    : `${backtest.firm}: ${backtest.backtested} terms`;
  const otherwise = backtest.kind === "routing" ? "routed otherwise" : "decided otherwise";
  return `${what}, leads received ${backtest.window_from} to ${backtest.window_to}: ` +
    `${backtest.leads} leads, ${backtest.differences} ${otherwise}`;
}

function drawChart(backtest) {
  const numbers = (key) => backtest.bars.map((bar) => Number(bar[key]));
  const data = {
    labels: backtest.bars.map((bar) => bar.label),
    datasets: [
      { label: "before", data: numbers("before"), backgroundColor: BEFORE },
      { label: "after", data: numbers("after"), backgroundColor: AFTER },
    ],
  };
  const unit = backtest.unit === "leads" ? "leads" : backtest.unit;
  const options = {
    plugins: {
      legend: { position: "bottom" },
      tooltip: {
        callbacks: {
          label: (item) => `${item.dataset.label}: ` +
            (unit === "leads" ? `${item.raw} leads` : `${money(item.raw)} ${unit}`),
        },
      },
    },
    scales: { y: { beginAtZero: true, title: { display: true, text: unit } } },
  };
  const existing = state.charts["backtest-chart"];
  if (existing) {
    existing.data = data;
    existing.options = options;
    existing.update();
  } else {
    state.charts["backtest-chart"] = new Chart($("backtest-chart"), { type: "bar", data, options });
  }
}

function showMoves(backtest) {
  const body = $("backtest-moves").querySelector("tbody");
  body.replaceChildren();
  for (const move of backtest.moves) {
    const row = document.createElement("tr");
    for (const value of [move.before, move.after, move.leads]) {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      row.append(cell);
    }
    body.append(row);
  }
  $("backtest-moves").hidden = backtest.moves.length === 0;
}

function choose(backtest, item) {
  state.backtest = backtest.backtest_id;
  for (const other of $("backtests-list").children) other.classList.remove("chosen");
  item.classList.add("chosen");
  $("backtest-said").textContent = said(backtest);
  $("backtest-view").hidden = false;
  drawChart(backtest);
  showMoves(backtest);
}

export async function refreshBacktests() {
  let found;
  try {
    found = await (await api("/v1/backtests")).json();
  } catch (error) {
    if (!(error instanceof Unauthorized)) $("backtests-why").textContent = error.message;
    return;
  }
  $("backtests-why").hidden = found.length > 0;
  $("backtests-why").textContent = found.length ? "" :
    "No backtest has finished yet: POST /v1/routing/backtests on the router, or " +
    "/v1/firms/{firm}/contract/backtests on credit (or leadflow backtest routing|credit).";
  $("backtest-view").hidden = found.length === 0;
  const list = $("backtests-list");
  list.replaceChildren();
  const kept = found.find((backtest) => backtest.backtest_id === state.backtest) || found[0];
  for (const backtest of found) {
    const item = document.createElement("li");
    item.dataset.backtest = backtest.backtest_id;
    const when = document.createElement("time");
    when.textContent = new Date(backtest.finished_at).toLocaleString();
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${backtest.kind} · by ${backtest.ran_by}`;
    item.append(when, ` ${said(backtest)}`, meta);
    item.addEventListener("click", () => choose(backtest, item));
    list.append(item);
    if (backtest === kept) choose(backtest, item);
  }
}
