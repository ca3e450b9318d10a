// The timeline: a bar per phase and, under it, a bar per agent call; parallel calls are on rows of
// their own at the same time; a retry is labelled ↻, a timeout ⏱, an error ✗ (text with the colour).
import { duration, replace, s } from "./dom.js";

const ROW = 20, LABEL = 190, WIDTH = 900;

export function renderGantt(container, model) {
  const rows = [];
  for (const name of model.phaseOrder) {
    const p = model.phases.get(name);
    rows.push({ kind: "phase", label: name, start: p.started, end: p.ended, status: p.status,
      note: p.retries.length ? `↻ ${p.retries.length} retr${p.retries.length === 1 ? "y" : "ies"}` : "" });
    for (const c of model.calls.values()) {
      if (c.phase !== name) continue;
      const mark = c.status === "timeout" ? "⏱ timeout" : c.status === "error" ? "✗ error" : c.status === "running" ? "◔" : "✓";
      rows.push({ kind: "call", label: `${c.agent}${c.round ? ` r${c.round}` : ""}`, start: c.started, end: c.ended,
        status: c.status, note: `${c.attempt > 1 ? `↻ attempt ${c.attempt} ` : ""}${mark}` });
    }
  }
  const t0 = model.started || Math.min(...rows.map((r) => r.start || Infinity));
  const now = model.ended || model.lastTime || t0;
  const span = Math.max(0.001, now - t0);
  const scale = (WIDTH - LABEL - 10) / span;
  const height = rows.length * ROW + 24;
  const bars = rows.map((r, i) => {
    const y = i * ROW + 4;
    const x = LABEL + ((r.start || now) - t0) * scale;
    const w = Math.max(2, ((r.end || now) - (r.start || now)) * scale);
    const ms = ((r.end || now) - (r.start || now)) * 1000;
    const text = `${r.label}: ${r.status}${r.start ? `, ${duration(ms)}` : ""} ${r.note}`.trim();
    return s("g", { class: `bar ${r.kind} status-${r.status}`, role: "listitem", "aria-label": text },
      s("title", { text }),
      s("text", { x: r.kind === "phase" ? 4 : 16, y: y + 13, class: `label ${r.kind}`, text: r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label }),
      r.start ? s("rect", { x, y, width: w, height: ROW - 6, rx: 3 }) : null,
      r.start ? s("text", { x: Math.min(x + w + 4, WIDTH - 90), y: y + 13, class: "note", text: `${duration(ms)} ${r.note}`.trim() }) : null);
  });
  const axis = s("text", { x: LABEL, y: height - 6, class: "axis", text: `0 — ${duration(span * 1000)}` });
  replace(container, s("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, class: "gantt", role: "list",
    "aria-label": "Timeline of phases and agent calls" }, bars, axis));
}
