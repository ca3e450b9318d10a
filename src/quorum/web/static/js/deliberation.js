// Per phase: its steps, each agent's answer (stance, confidence, rationale, the data it used) and what
// the aggregation saw (the tally of stances, the majority, who dissented).
import { callsOf } from "./model.js";
import { badge, duration, h, replace, value } from "./dom.js";

export function phaseSection(name) {
  return h("details", { class: "phase", "data-phase": name, open: true },
    h("summary", {}, h("span", { class: "phase-name", text: name }), " ", h("span", { class: "phase-status" })),
    h("div", { class: "phase-body" }));
}

// the data an agent returned, one line per field (a text node each, not a nested list: a phase of 30
// agents is hundreds of rows, and the page stays light)
function dataUsed(data) {
  return Object.entries(data).map(([k, v], i) => [i ? h("br") : null, h("span", { class: "key", text: `${k}: ` }),
    typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)]);
}

function tally(answers) {
  const counts = new Map();
  for (const a of answers) {
    const stance = a.response && (a.response.stance || a.response.recommendation);
    if (stance) counts.set(stance, (counts.get(stance) || 0) + 1);
  }
  const ordered = [...counts.entries()].sort((x, y) => y[1] - x[1]);
  const majority = ordered.length ? ordered[0][0] : null;
  const dissent = answers.filter((a) => a.response && (a.response.stance || a.response.recommendation)
    && (a.response.stance || a.response.recommendation) !== majority);
  return { ordered, majority, dissent };
}

// A phase's body is made of parts kept between renders: the notes, the steps, the answers (a row per
// agent call, redrawn only when that call changed), the tally and the outputs. An agent answering
// in a phase of 30 costs its own row and the tally, not the 29 others again.
const PARTS = new WeakMap();

function partsOf(section) {
  let parts = PARTS.get(section);
  if (!parts) {
    const tbody = h("tbody");
    parts = { notes: h("div"), steps: h("div"), answers: h("div", { hidden: true }, h("h4", { text: "Answers" }),
      h("div", { class: "scroll" }, h("table", { class: "list answers" },
        h("thead", {}, h("tr", {}, ["Agent", "Call", "Stance", "Confidence", "Rationale", "Data used"].map((t) => h("th", { scope: "col", text: t })))),
      tbody))),
    tbody, rows: new Map(), tally: h("div"), outputs: h("div"), placeholder: h("p", { class: "note" }), shown: {} };
    replace(section.querySelector(".phase-body"), parts.placeholder, parts.notes, parts.steps, parts.answers, parts.tally, parts.outputs);
    PARTS.set(section, parts);
  }
  return parts;
}

function answerRow(c) {
  const r = c.response || {};
  return h("tr", { "data-agent": c.agent, "data-call": c.key },
    h("th", { scope: "row", text: c.agent }),
    h("td", {}, badge(c.status), c.attempt > 1 ? ` ↻ attempt ${c.attempt}` : "", c.round ? ` round ${c.round}` : "",
      c.duration_ms != null ? ` ${duration(c.duration_ms)}` : ""),
    h("td", { class: "stance", text: r.stance || r.recommendation || "" }),
    h("td", { text: r.confidence != null ? `${Math.round(r.confidence * 100)}%` : "" }),
    h("td", { class: "rationale", text: c.error || r.rationale || r.text || "" }),
    h("td", { class: "data-used" }, r.data && Object.keys(r.data).length ? dataUsed(r.data) : ""));
}

// a part redrawn only when what it shows changed (compared by a key)
function show(parts, name, key, draw) {
  if (parts.shown[name] === key) return;
  parts.shown[name] = key;
  replace(parts[name], draw());
}

export function renderPhase(section, model, name) {
  const p = model.phases.get(name);
  const parts = partsOf(section);
  const status = section.querySelector(".phase-status");
  const head = `${p.status}|${p.duration_ms}|${p.attempt}`;
  if (parts.shown.head !== head) {
    parts.shown.head = head;
    replace(status, badge(p.status), p.duration_ms != null ? ` ${duration(p.duration_ms)}` : "",
      p.attempt > 1 ? ` (attempt ${p.attempt})` : "");
    section.dataset.status = p.status;
  }
  show(parts, "notes", `${p.skipped_reason}|${p.error}|${p.retries.length}`, () => [
    p.skipped_reason ? h("p", { class: "note", text: `Skipped: ${p.skipped_reason}` }) : null,
    p.error ? h("p", { class: "error", text: `✗ ${p.error}` }) : null,
    p.retries.map((r) => h("p", { class: "note", text: `↻ retry (attempt ${r.attempt || "?"})${r.error ? `: ${r.error}` : ""}` }))]);
  const steps = [...p.steps.values()].sort((a, b) => a.index - b.index);
  show(parts, "steps", steps.map((st) => `${st.kind}|${st.type}|${st.status}|${st.duration_ms}`).join(";"), () => (steps.length
    ? [h("h4", { text: "Steps" }), h("ol", { class: "steps", start: 0 }, steps.map((st) => h("li", {},
      `${st.kind || "step"}${st.type ? ` (${st.type})` : ""} `, badge(st.status), st.duration_ms != null ? ` ${duration(st.duration_ms)}` : "")))]
    : []));
  const calls = callsOf(model, name);
  for (const c of calls) {
    const key = [c.status, c.duration_ms, c.attempt, c.round, c.error].join("|");
    const row = parts.rows.get(c.key);
    if (row && row.key === key && row.response === c.response) continue;
    const tr = answerRow(c);
    if (row) row.tr.replaceWith(tr); else parts.tbody.append(tr);
    parts.rows.set(c.key, { tr, key, response: c.response });
  }
  parts.answers.hidden = calls.length === 0;
  const aggregates = steps.filter((st) => st.kind === "aggregate");
  const t = tally(calls);
  const tallyKey = `${aggregates.map((a) => a.type).join(",")}|${t.ordered.map(([k, n]) => `${k}${n}`).join(",")}|${t.dissent.map((a) => a.agent).join(",")}`;
  show(parts, "tally", tallyKey, () => (t.ordered.length
    ? [h("h4", { text: aggregates.length ? `Aggregation: ${aggregates.map((a) => a.type || "aggregate").join(", ")}` : "Stances" }),
      h("p", { class: "tally" }, h("strong", { text: "Tally: " }), t.ordered.map(([k, n]) => `${k} ${n}`).join(" · "),
        " — majority ", h("strong", { text: t.majority })),
      h("p", { class: "dissent" }, h("strong", { text: "Dissent: " }),
        t.dissent.length ? t.dissent.map((a) => `${a.agent} (${a.response.stance || a.response.recommendation})`).join(", ") : "none")]
    : []));
  if (parts.outputsOf !== p.outputs) {
    parts.outputsOf = p.outputs;
    replace(parts.outputs, p.outputs && Object.keys(p.outputs).length ? [h("h4", { text: "Outputs" }), value(p.outputs)] : []);
  }
  const empty = !p.skipped_reason && !p.error && !p.retries.length && !steps.length && !calls.length
    && !(p.outputs && Object.keys(p.outputs).length);
  parts.placeholder.hidden = !empty;
  const placeholder = p.status === "pending" ? "Not started." : "…";
  if (empty && parts.placeholder.textContent !== placeholder) parts.placeholder.textContent = placeholder;
}
