// The timeline: a bar per phase and, under it, a bar per agent call; parallel calls are on rows of
// their own at the same time; a retry is labelled ↻, a timeout ⏱, an error ✗ (text with the colour).
//
// Drawn incrementally: each row (a phase or a call) is made once and kept; a render touches only the
// rows whose bar, place or text changed. The time axis grows in steps (a quarter more each time the
// run outgrows it), so while a run goes on, the bars that have ended stay as they are; its height grows
// ten rows at a time.
import { duration, s } from "./dom.js";

const ROW = 20, LABEL = 190, WIDTH = 900;

function rowsOf(model) {
  const rows = [];
  const byPhase = new Map();
  for (const c of model.calls.values()) {
    if (!byPhase.has(c.phase)) byPhase.set(c.phase, []);
    byPhase.get(c.phase).push(c);
  }
  for (const name of model.phaseOrder) {
    const p = model.phases.get(name);
    rows.push({ key: `phase:${name}`, kind: "phase", label: name, start: p.started, end: p.ended, status: p.status,
      note: p.retries.length ? `↻ ${p.retries.length} retr${p.retries.length === 1 ? "y" : "ies"}` : "" });
    for (const c of byPhase.get(name) || []) {
      const mark = c.status === "timeout" ? "⏱ timeout" : c.status === "error" ? "✗ error" : c.status === "running" ? "◔" : "✓";
      rows.push({ key: `call:${c.key}`, kind: "call", label: `${c.agent}${c.round ? ` r${c.round}` : ""}`, start: c.started,
        end: c.ended, status: c.status, note: `${c.attempt > 1 ? `↻ attempt ${c.attempt} ` : ""}${mark}` });
    }
  }
  return rows;
}

function newRow(r) {
  const row = { g: null, title: s("title"), rect: s("rect", { height: ROW - 6, rx: 3 }),
    note: s("text", { class: "note" }), last: {} };
  row.g = s("g", { role: "listitem" }, row.title,
    s("text", { x: r.kind === "phase" ? 4 : 16, y: 13, class: `label ${r.kind}`, text: r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label }),
    row.rect, row.note);
  return row;
}

// an attribute (or the text) of one of a row's elements, written only when it differs from the last
function set(row, part, name, value) {
  const key = `${part}.${name}`;
  if (row.last[key] === value) return;
  row.last[key] = value;
  if (name === "text") row[part].textContent = value;
  else row[part].setAttribute(name, value);
}

export function renderGantt(container, model) {
  let drawn = DRAWN.get(container);
  if (!drawn || !container.contains(drawn.svg)) {
    const axis = s("text", { x: LABEL, class: "axis" });
    const svg = s("svg", { width: WIDTH, class: "gantt", role: "list", "aria-label": "Timeline of phases and agent calls" }, axis);
    drawn = { svg, axis, rows: new Map(), span: 0, order: [] };
    DRAWN.set(container, drawn);
    container.replaceChildren(svg);
  }
  const rows = rowsOf(model);
  const t0 = model.started || Math.min(...rows.map((r) => r.start || Infinity));
  const now = model.ended || model.lastTime || t0;
  const span = Math.max(0.001, now - t0);
  // the axis: exactly the run once it ended; while it runs, a quarter more than it needs
  if (model.ended) drawn.span = span;
  else if (span > drawn.span) drawn.span = span * 1.25;
  const scale = (WIDTH - LABEL - 10) / drawn.span;
  const order = rows.map((r) => r.key);
  const moved = order.length !== drawn.order.length || order.some((k, i) => k !== drawn.order[i]);
  rows.forEach((r, i) => {
    let row = drawn.rows.get(r.key);
    if (!row) { row = newRow(r); drawn.rows.set(r.key, row); }
    const y = i * ROW + 4;
    const ended = r.end || now;
    const x = LABEL + ((r.start || now) - t0) * scale;
    const w = Math.max(2, (ended - (r.start || now)) * scale);
    const took = r.start ? duration((ended - r.start) * 1000) : "";
    const text = `${r.label}: ${r.status}${took ? `, ${took}` : ""} ${r.note}`.trim();
    set(row, "g", "transform", `translate(0,${y})`);
    set(row, "g", "class", `bar ${r.kind} status-${r.status}`);
    set(row, "g", "aria-label", text);
    set(row, "title", "text", text);
    set(row, "rect", "visibility", r.start ? "visible" : "hidden");
    set(row, "note", "visibility", r.start ? "visible" : "hidden");
    if (r.start) {
      set(row, "rect", "x", x.toFixed(1));
      set(row, "rect", "width", w.toFixed(1));
      set(row, "note", "x", Math.min(x + w + 4, WIDTH - 90).toFixed(1));
      set(row, "note", "y", 13);
      set(row, "note", "text", `${took} ${r.note}`.trim());
    }
  });
  if (moved) {
    // rows only ever join (a phase's calls after it): put the kept elements in the new order
    const keep = new Set(order);
    for (const [key, row] of drawn.rows) if (!keep.has(key)) { row.g.remove(); drawn.rows.delete(key); }
    drawn.svg.replaceChildren(...order.map((k) => drawn.rows.get(k).g), drawn.axis);
    drawn.order = order;
  }
  // while it runs, the figure grows by ten rows at a time: each growth moves everything below it on
  // the page (laid out and painted again), so it should not happen at every agent call
  const height = (model.ended ? rows.length : Math.ceil(rows.length / 10) * 10) * ROW + 24;
  if (drawn.height !== height) {
    drawn.height = height;
    drawn.svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
    drawn.svg.setAttribute("height", height);
    drawn.axis.setAttribute("y", height - 6);
  }
  const axis = `0 — ${duration(drawn.span * 1000)}`;
  if (drawn.axis.textContent !== axis) drawn.axis.textContent = axis;
}

const DRAWN = new WeakMap();
