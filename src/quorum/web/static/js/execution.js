// The execution page: everything from the event stream (replayed from the first event, then live),
// the status and pending approvals from GET /executions/{id} whenever the execution's state moves.
import { api, follow, problemText, showLive } from "./api.js";
import { criticalText, renderDag } from "./dag.js";
import { phaseSection, renderPhase } from "./deliberation.js";
import { $, badge, clear, clock, duration, h, replace, setBadge, value } from "./dom.js";
import { renderGantt } from "./gantt.js";
import { renderMemo } from "./memo.js";
import { apply, newModel } from "./model.js";

const article = $("#execution");
const TERMINAL = new Set(["completed", "failed", "aborted", "timeout"]);
let model = null;
let graph = {};
let critical = [];
let detail = null;
let readyAt = 0;
let frame = 0;
let logRows = [];
const sections = new Map();

// while the journal is replayed (it could be thousands of events) the page is drawn once a second at
// most, and at once when the replay has caught up; after that, on the next frame after each event
let lastDrawn = performance.now();
let timer = 0;
function schedule() {
  if (frame) return;
  if (model.lastSeq < readyAt) {
    if (!timer) timer = setTimeout(() => { timer = 0; schedule(); frame = frame || requestAnimationFrame(render); },
      Math.max(0, 1000 - (performance.now() - lastDrawn)));
    return;
  }
  if (timer) { clearTimeout(timer); timer = 0; }
  frame = requestAnimationFrame(render);
}

function render() {
  frame = 0;
  lastDrawn = performance.now();
  const status = model.status;
  if (article.dataset.status !== status || !$("#exec-status").dataset.status) {
    setBadge($("#exec-status"), status);
    article.dataset.status = status;
  }
  const took = model.durationMs != null ? duration(model.durationMs)
    : model.started ? `${duration(((model.lastTime || model.started) - model.started) * 1000)} so far` : "";
  if ($("#exec-duration").textContent !== took) replace($("#exec-duration"), took);
  if (model.error) { replace($("#exec-error"), `✗ ${model.error}`); $("#exec-error").hidden = false; }
  for (const name of model.phaseOrder) if (!(name in graph)) graph[name] = [];
  if (model.changed.has("dag") || !$("#dag svg")) renderDag($("#dag"), graph, critical, model.phases);
  if (model.changed.has("gantt")) renderGantt($("#gantt"), model);
  for (const name of model.phaseOrder) {
    if (!sections.has(name)) {
      const section = phaseSection(name);
      sections.set(name, section);
      $("#phases").append(section);
      model.changedPhases.add(name);
    }
  }
  for (const name of model.changedPhases) if (sections.has(name)) renderPhase(sections.get(name), model, name);
  model.changedPhases.clear();
  if (model.changed.has("memo") || model.changed.has("status")) renderMemo($("#memo"), model.verdict || (detail && detail.verdict), status);
  if (model.changed.has("input") && model.input) replace($("#input"), value(model.input));
  if (model.changed.has("children")) renderChildren();
  if (model.changed.has("checkpoints")) {
    replace($("#fork-from"), h("option", { value: "", text: "everything settled" }),
      model.checkpoints.map((c) => h("option", { value: c.id, text: `${c.label || c.id} (${c.id})` })));
  }
  model.changed.clear();
  if (logRows.length) { showLog(logRows); logRows = []; }
  controls(status);
  if (model.lastSeq >= readyAt && article.dataset.ready !== "1") {
    performance.mark("quorum:rendered");
    article.dataset.ready = "1";
    article.setAttribute("aria-busy", "false");
  }
}

function controls(status) {
  $("#pause").disabled = !["running", "pending", "waiting"].includes(status);
  $("#resume").disabled = status !== "paused";
  $("#abort").disabled = TERMINAL.has(status);
}

function summary(ev) {
  if (ev.error) return `✗ ${ev.error}`;
  const d = ev.data || {};
  if (ev.type === "agent:response" && d.response) return `${d.response.stance || ""} ${d.response.confidence != null ? `${Math.round(d.response.confidence * 100)}%` : ""}`.trim();
  if (ev.type === "checkpoint:created") return d.label || d.checkpoint_id || "";
  if (ev.type.startsWith("child:")) return [d.child_id, d.task, d.status].filter(Boolean).join(" · ");
  if (ev.type === "phase:skipped") return d.reason || "";
  if (ev.type.startsWith("approval:")) return [d.question, d.decision, d.by].filter(Boolean).join(" · ");
  if (ev.type === "step:start" || ev.type === "step:complete") return `${ev.step}: ${d.kind || ""}${d.type ? ` (${d.type})` : ""}`;
  return ev.duration_ms != null ? duration(ev.duration_ms) : "";
}

function logRow(ev) {
  const text = summary(ev);
  return h("tr", { "data-kind": ev.type.split(":")[0], "data-type": ev.type },
    h("td", { text: ev.sequence }), h("td", { text: clock(ev.timestamp) }), h("td", {}, h("code", { text: ev.type })),
    h("td", { text: ev.phase || "" }), h("td", { text: ev.agent || "" }), h("td", { text }));
}

// The log holds every event; the table shows the newest LOG_ROWS that pass the filter (all of them
// after "Show every event"). New rows are added as they come; a change of filter redraws it.
const LOG_ROWS = 300;
const logged = [];
let logAll = false;
let logMatched = 0;  // how many of `logged` pass the filter: counted as they come, again on a new filter

function passes(ev, kind, text) {
  return (!kind || ev.type.startsWith(`${kind}:`)) && (!text || logText(ev).includes(text));
}

function logText(ev) {
  if (ev.__text === undefined) ev.__text = `${ev.sequence} ${ev.type} ${ev.phase || ""} ${ev.agent || ""} ${summary(ev)}`.toLowerCase();
  return ev.__text;
}

function filters() {
  const form = $("#log-filter");
  return [form.elements.kind.value, form.elements.text.value.trim().toLowerCase()];
}

function showLog(events, redraw = false) {
  const body = $("#log").tBodies[0];
  const [kind, text] = filters();
  if (redraw) { clear(body); logMatched = 0; }
  const matching = events.filter((ev) => passes(ev, kind, text));
  logMatched += matching.length;
  const fresh = logAll ? matching : matching.slice(-LOG_ROWS);
  body.append(...fresh.map(logRow));
  while (!logAll && body.rows.length > LOG_ROWS) body.rows[0].remove();
  const total = logMatched;
  replace($("#log-count"), `${body.rows.length} of ${total} events${kind || text ? " that match" : ""} shown`);
  $("#log-all").hidden = logAll || total <= body.rows.length;
}

// The tree under this execution: its children as its own events tell them (live), each with the
// executions under it from GET /executions/{id}/children, read again when a child starts or ends.
let tree = null;
let treeFetch = 0;
function loadChildren() {
  if (treeFetch) return;
  treeFetch = setTimeout(async () => {
    treeFetch = 0;
    try {
      tree = await api(`/executions/${encodeURIComponent(model.id)}/children`);
      $("#children-error").hidden = true;
    } catch (error) {
      replace($("#children-error"), problemText(error));
      $("#children-error").hidden = false;
    }
    model.changed.add("children");
    schedule();
  }, 100);
}

function childRow(node, depth) {
  const where = node.phase ? `${node.phase}${node.step != null ? ` step ${node.step}` : ""}${node.index != null ? ` [${node.index}]` : ""}` : "";
  return h("tr", { "data-child": node.id, "data-status": node.status, "data-depth": depth },
    h("th", { scope: "row" }, depth ? h("span", { class: "tree-indent", "aria-hidden": "true", text: `${"  ".repeat(depth - 1)}└ ` }) : "",
      h("a", { href: `/executions/${encodeURIComponent(node.id)}` }, h("code", { text: node.id }))),
    h("td", { text: `${node.task || ""}${node.version ? ` ${node.version}` : ""}` }),
    h("td", { text: where }),
    h("td", {}, badge(node.status), node.duration_ms != null ? ` ${duration(node.duration_ms)}` : "",
      node.error ? h("span", { class: "error", text: ` ✗ ${node.error}` }) : ""));
}

function renderChildren() {
  // the direct children: from the events (newer than any read of the tree), with what the read adds
  const fetched = new Map(((tree && tree.children) || []).map((c) => [c.id, c]));
  const direct = [...model.children.values()].map((live) => {
    const read = fetched.get(live.id);
    const status = live.status === "running" && read && TERMINAL.has(read.status) ? read.status : live.status;
    return { ...(read || {}), ...live, status, children: read ? read.children : [] };
  });
  for (const [id, read] of fetched) if (!model.children.has(id)) direct.push(read);
  const rows = [];
  const walk = (nodes, depth) => { for (const n of nodes) { rows.push(childRow(n, depth)); walk(n.children || [], depth + 1); } };
  walk(direct, 0);
  replace($("#children tbody"), rows);
  $("#children").hidden = rows.length === 0;
}

let refreshing = null;
function refresh() {
  if (refreshing) return;
  refreshing = setTimeout(async () => {
    refreshing = null;
    try {
      detail = await api(`/executions/${encodeURIComponent(model.id)}`);
      // the record is the authority (a pause requested elsewhere, a gate), except that an ended
      // execution (seen in its stream) does not go back to running on a record read just before
      if (!TERMINAL.has(model.status) || TERMINAL.has(detail.status)) model.status = detail.status;
      approvals(detail.pending_approvals || []);
      model.changed.add("status");
      schedule();
    } catch (error) {
      replace($("#exec-error"), problemText(error));
      $("#exec-error").hidden = false;
    }
  }, 50);
}

// The expected finish (GET /executions/{id}'s eta, learned from the task version's completed runs): read
// at the start and at every phase boundary, counted down each second; nothing when there is no history.
let eta = null;
let etaFetch = 0;
let etaTick = 0;
function showEta() {
  const el = $("#exec-eta");
  if (!eta || TERMINAL.has(model.status)) {
    replace(el, "");
    if (etaTick) { clearInterval(etaTick); etaTick = 0; }
    return;
  }
  const now = Date.now() / 1000;
  const left = Math.max(0, eta.finish_at - now) * 1000, p95 = Math.max(0, eta.finish_p95_at - now) * 1000;
  replace(el, `ETA ${duration(left) || "0 ms"} (p95 ${duration(p95) || "0 ms"})`);
  el.title = `from ${eta.basis} completed run${eta.basis === 1 ? "" : "s"} of this task version`;
}
// Without an ETA (no completed run of this task version yet) it is asked again at most every
// ETA_RETRY_MS, not at every boundary: fifty open pages of a run without history would otherwise each
// read the execution at every phase for an answer that stays "none".
const ETA_RETRY_MS = 10_000;
let etaAsked = 0;
function refreshEta() {
  if (etaFetch || TERMINAL.has(model.status)) return;
  if (!eta && etaAsked && performance.now() - etaAsked < ETA_RETRY_MS) return;
  etaAsked = performance.now();
  etaFetch = setTimeout(async () => {
    etaFetch = 0;
    try { eta = (await api(`/executions/${encodeURIComponent(model.id)}`)).eta; } catch { eta = null; }
    showEta();
    if (eta && !etaTick) etaTick = setInterval(showEta, 1000);
  }, 100);
}
const BOUNDARIES = new Set(["execution:start", "execution:resumed", "phase:complete", "phase:skipped"]);

let approvalKey = "";
function approvals(pending) {
  const key = pending.map((a) => a.gate).join("|");
  if (key === approvalKey) return;
  approvalKey = key;
  $("#approvals").hidden = pending.length === 0;
  replace($("#approval-forms"), pending.map(approvalForm));
}

function approvalForm(gate) {
  const slash = gate.gate.lastIndexOf("/");
  const phase = gate.gate.slice(0, slash), step = gate.gate.slice(slash + 1);
  const id = `gate-${gate.gate.replace(/[^a-zA-Z0-9]/g, "-")}`;
  const result = h("p", { role: "status", "aria-live": "polite", class: "result" });
  const form = h("form", { class: "approval", "data-gate": gate.gate },
    h("fieldset", {}, h("legend", { text: gate.question }),
      gate.choices.map((choice, i) => h("label", { class: "choice" },
        h("input", { type: "radio", name: "decision", value: choice, required: true, checked: i === 0 }), ` ${choice}`)),
      h("p", { class: "note", text: `Needs ${gate.approvers} approver(s); default ${gate.default}${gate.deadline ? ` at ${new Date(gate.deadline * 1000).toLocaleString()}` : ""}.` }),
      h("p", {}, h("label", { for: `${id}-by`, text: "Your name" }), " ", h("input", { id: `${id}-by`, name: "by", required: true, autocomplete: "name" })),
      h("p", {}, h("label", { for: `${id}-comment`, text: "Comment" }), h("textarea", { id: `${id}-comment`, name: "comment", rows: 2 })),
      h("button", { type: "submit", text: "Send decision" }), result));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      const answer = await api(`/executions/${encodeURIComponent(model.id)}/approvals/${encodeURIComponent(phase)}/${encodeURIComponent(step)}`,
        { method: "POST", body: { decision: data.get("decision"), by: data.get("by") || "", comment: data.get("comment") || "" } });
      replace(result, `✓ ${answer.detail || "decision sent"}`);
      refresh();
    } catch (error) { replace(result, `✗ ${problemText(error)}`); }
  });
  return form;
}

async function control(action) {
  const out = $("#control-result");
  try {
    const answer = await api(`/executions/${encodeURIComponent(model.id)}/${action}`, { method: "POST", body: {} });
    replace(out, `✓ ${answer.detail || action}`);
    refresh();
  } catch (error) { replace(out, `✗ ${problemText(error)}`); }
}

async function fork() {
  const out = $("#control-result");
  const checkpoint = $("#fork-from").value;
  try {
    const created = await api(`/executions/${encodeURIComponent(model.id)}/fork`, { method: "POST", body: checkpoint ? { checkpoint } : {} });
    location.assign(`/executions/${encodeURIComponent(created.id)}`);
  } catch (error) { replace(out, `✗ ${problemText(error)}`); }
}

function onEvent(ev) {
  apply(model, ev);
  logged.push(ev);
  logRows.push(ev);
  if (BOUNDARIES.has(ev.type)) refreshEta();
  if (ev.type.startsWith("child:")) loadChildren();
  if (TERMINAL.has(model.status)) { showEta(); approvals([]); }  // ended: no gate waits any more
  if (model.changed.has("status") && model.lastSeq >= readyAt) refresh();
  schedule();
}

async function start() {
  const id = article.dataset.id;
  const task = article.dataset.task;
  model = newModel(id);
  model.status = article.dataset.status || "pending";
  model.changed.add("status");
  readyAt = Number(article.dataset.lastSequence || 0);
  // the task's graph and the journal so far, asked for together; the journal is applied at once,
  // then the event stream is followed from its end. The record (what the journal does not say: the
  // gates waiting) is read when the execution waits, and again whenever its state moves.
  const definition = api(`/tasks/${encodeURIComponent(task)}`).catch(() => null);
  const journal = api(`/web/executions/${encodeURIComponent(id)}/journal`).catch((error) => {
    replace($("#exec-error"), problemText(error));
    $("#exec-error").hidden = false;
    return { events: [] };
  });
  const [found, replay] = await Promise.all([definition, journal]);
  if (found) {  // else a task this server cannot load: the phases in journal order, no edges
    graph = found.graph;
    critical = found.critical_path;
    criticalText($("#critical"), critical);
    model.changed.add("dag");
  }
  performance.mark("quorum:journal-read");
  for (const ev of replay.events) {
    apply(model, ev);
    logged.push(ev);
  }
  logRows = logged.slice();
  readyAt = Math.max(readyAt, model.lastSeq);
  // the record is read before the journal: an end the journal shows is newer than the record's status
  if (replay.status && !(TERMINAL.has(model.status) && model.ended)) model.status = replay.status;
  if (model.status === "waiting") refresh();
  if (model.children.size) loadChildren();
  schedule();
  if (TERMINAL.has(model.status) && model.ended) {
    showLive("ended");  // nothing more will be recorded
    return;
  }
  refreshEta();
  follow(`/executions/${encodeURIComponent(id)}/events`, { onEvent, after: model.lastSeq });
}

$("#pause").addEventListener("click", () => control("pause"));
$("#resume").addEventListener("click", () => control("resume"));
$("#abort").addEventListener("click", () => { if (confirm("Abort this execution? Calls in flight are cancelled.")) control("abort"); });
$("#fork").addEventListener("click", fork);
$("#log-filter").addEventListener("input", () => showLog(logged, true));
$("#log-all").addEventListener("click", () => { logAll = true; showLog(logged, true); });
$("#log-filter").addEventListener("submit", (e) => e.preventDefault());
start();
