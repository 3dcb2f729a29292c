// The live event list: GET /v1/events/stream read with fetch (an EventSource cannot send
// the token in a header), resumed from the last position after a reconnect.

import { openLead } from "./leads.js";
import { $, Unauthorized, api, state } from "./shell.js";

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

export async function follow() {
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
