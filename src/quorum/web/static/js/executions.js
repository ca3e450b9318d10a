// The executions list: filters, id-prefix search, cursor paging, bulk abort/resume, live from /events.
import { api, follow, problemText, showLive } from "./api.js";
import { $, badge, duration, h, replace, when } from "./dom.js";

const form = $("#filters");
const table = $("#executions");
const body = table.tBodies[0];
const selected = new Set();
let cursors = [null];  // the cursor of each page seen, for "Newer"
let page = 0;
let nextCursor = null;
let shown = new Map();  // id -> row data on this page

function query() {
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const key of ["status", "task", "prefix"]) if (data.get(key)) params.set(key, data.get(key).trim());
  for (const key of ["since", "until"]) {
    const v = data.get(key);
    if (v) params.set(key, new Date(v).toISOString());
  }
  params.set("limit", "50");
  if (cursors[page]) params.set("cursor", cursors[page]);
  return params;
}

function row(item) {
  const box = h("input", { type: "checkbox", "aria-label": `Select ${item.id}`, value: item.id });
  box.checked = selected.has(item.id);
  box.addEventListener("change", () => { box.checked ? selected.add(item.id) : selected.delete(item.id); bulkState(); });
  return h("tr", { "data-id": item.id, "data-status": item.status },
    h("td", {}, box),
    h("td", {}, h("a", { href: `/executions/${encodeURIComponent(item.id)}`, class: "mono", text: item.id })),
    h("td", { text: item.task }),
    h("td", {}, badge(item.status)),
    h("td", { text: when(item.started_at || item.created_at) }),
    h("td", { text: duration(item.duration_ms) }),
    h("td", { text: item.decision || "" }));
}

function show(answer) {
    shown = new Map(answer.items.map((i) => [i.id, i]));
    replace(body, answer.items.length ? answer.items.map(row)
      : h("tr", {}, h("td", { colspan: 7, class: "note", text: "No executions match." })));
    nextCursor = answer.next_cursor;
    $("#next").disabled = !nextCursor;
    $("#prev").disabled = page === 0;
    replace($("#page-label"), `page ${page + 1}`);
}

let loading = null;
async function load() {
  const mine = (loading = Symbol("load"));
  table.setAttribute("aria-busy", "true");
  try {
    const answer = await api(`/web/executions?${query()}`);
    if (mine !== loading) return;
    show(answer);
    $("#list-error").hidden = true;
  } catch (error) {
    replace($("#list-error"), problemText(error));
    $("#list-error").hidden = false;
  } finally {
    if (mine === loading) { table.setAttribute("aria-busy", "false"); table.dataset.ready = "1"; }
  }
}

function bulkState() {
  $("#bulk-abort").disabled = $("#bulk-resume").disabled = selected.size === 0;
  $("#select-all").checked = shown.size > 0 && [...shown.keys()].every((id) => selected.has(id));
}

async function bulk(action) {
  const ids = [...selected];
  const results = await Promise.allSettled(ids.map((id) => api(`/executions/${id}/${action}`, { method: "POST", body: {} })));
  const failed = results.map((r, i) => [r, ids[i]]).filter(([r]) => r.status === "rejected");
  const done = ids.length - failed.length;
  const verb = action === "abort" ? "aborted" : "resumed";
  replace($("#bulk-result"), `${done} of ${ids.length} ${verb}` +
    (failed.length ? `; not ${verb}: ${failed.map(([r, id]) => `${id} (${problemText(r.reason)})`).join(", ")}` : ""));
  selected.clear();
  bulkState();
  load();
}

form.addEventListener("submit", (e) => { e.preventDefault(); cursors = [null]; page = 0; load(); });
form.addEventListener("reset", () => setTimeout(() => { cursors = [null]; page = 0; load(); }));
$("#next").addEventListener("click", () => { cursors[page + 1] = nextCursor; page += 1; load(); });
$("#prev").addEventListener("click", () => { page = Math.max(0, page - 1); load(); });
$("#select-all").addEventListener("change", (e) => {
  for (const id of shown.keys()) e.target.checked ? selected.add(id) : selected.delete(id);
  for (const box of body.querySelectorAll("input[type=checkbox]")) box.checked = e.target.checked;
  bulkState();
});
$("#bulk-abort").addEventListener("click", () => {
  if (confirm(`Abort ${selected.size} execution(s)? Calls in flight are cancelled.`)) bulk("abort");
});
$("#bulk-resume").addEventListener("click", () => bulk("resume"));

// live: an execution of this page changes status, or a new one starts (first page): load again,
// at most every 250 ms
let pending = null;
function soon() { if (!pending) pending = setTimeout(() => { pending = null; load(); }, 250); }
function onEvent(event) {
  const status = event.type.startsWith("execution:") || event.type.startsWith("approval:");
  if ((status && shown.has(event.execution_id)) || (event.type === "execution:start" && page === 0)) soon();
}

api("/tasks").then((tasks) => {
  const select = form.elements.task;
  for (const t of tasks) select.append(h("option", { value: t.name, text: t.name }));
}).catch(() => {});
// the first page came with the HTML
show(JSON.parse($("#first-page").textContent));
table.setAttribute("aria-busy", "false");
table.dataset.ready = "1";
showLive("reconnecting");
follow("/events", { onEvent, onReconnect: soon, perExecution: false });
