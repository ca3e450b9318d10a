// Per phase: its steps, each agent's answer (stance, confidence, rationale, the data it used) and what
// each aggregation found: the aggregator's own result, as its step:complete event carries it (a
// consensus weighs by confidence and counts each agent's final position, which a recount of the
// answers cannot know); for a journal written before events carried it, the stances recounted.
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

const NUMBER = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const counted = (m) => Object.entries(m || {}).sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ${NUMBER.format(n)}`).join(" · ");
const pct = (x) => `${Math.round(x * 100)}%`;

// one aggregate step's result, by its aggregator; any other aggregator's result shown as it is
function aggregation(step) {
  const r = step.result || {};
  const type = step.type || "collect";
  const body = [];
  if (type === "consensus" && r.counts) {
    body.push(h("p", { class: "tally" }, h("strong", { text: "Tally: " }), counted(r.counts) || "no stances",
      r.consensus != null ? [" — consensus ", h("strong", { text: String(r.consensus) })] : ""),
    h("p", { class: "weights" }, h("strong", { text: "Weights: " }), counted(r.weights) || "none",
      r.agreement != null ? ` — agreement ${pct(r.agreement)}, ${r.reached ? "reached" : "not reached"}` : "",
      r.confidence != null ? `, confidence ${pct(r.confidence)}` : ""),
    h("p", { class: "dissent" }, h("strong", { text: "Dissent: " }), dissentOf(r)));
  } else if (type === "vote" && r.tally) {
    body.push(h("p", { class: "tally" }, h("strong", { text: "Tally: " }), counted(r.tally) || "no votes",
      r.winner != null ? [" — winner ", h("strong", { text: String(r.winner) })] : "",
      r.tie ? " (a tie, broken by the voters' confidence)" : "", r.field ? ` · by ${r.field}` : ""),
    h("p", { class: "dissent" }, h("strong", { text: "Dissent: " }), dissentOf(r)));
  } else {
    body.push(value(r));
  }
  if (step.truncated) body.push(h("p", { class: "note", text: "(shortened for the event; the phase's outputs hold all of it)" }));
  return h("div", { class: "aggregation", "data-step": step.index, "data-type": type },
    h("h4", { text: `Aggregation: ${type} (step ${step.index})` }), body);
}

// who stood against the outcome and why (each dissenting vote or stance with its reason, as the chair
// minutes it); a result written before they carried their reasons names the dissenters only
function dissentOf(r) {
  const votes = r.dissent || [];
  if (votes.length) {
    return votes.map((d) => `${d.agent} (${d.vote ?? d.stance}${d.reason ? `: ${d.reason}` : ""})`).join("; ");
  }
  return (r.dissenting || []).length ? r.dissenting.join(", ") : "none";
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
  const reported = aggregates.filter((st) => st.result);
  if (reported.length) {
    show(parts, "tally", `r|${p.attempt}|${reported.map((st) => st.index).join(",")}`, () => reported.map(aggregation));
  } else {
    recounted(parts, aggregates, calls);
  }
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

// a journal whose aggregate events carry no result (written before they did): the stances recounted
function recounted(parts, aggregates, calls) {
  const t = tally(calls);
  const tallyKey = `${aggregates.map((a) => a.type).join(",")}|${t.ordered.map(([k, n]) => `${k}${n}`).join(",")}|${t.dissent.map((a) => a.agent).join(",")}`;
  show(parts, "tally", tallyKey, () => (t.ordered.length
    ? [h("h4", { text: aggregates.length ? `Aggregation: ${aggregates.map((a) => a.type || "aggregate").join(", ")}` : "Stances" }),
      h("p", { class: "tally" }, h("strong", { text: "Tally: " }), t.ordered.map(([k, n]) => `${k} ${n}`).join(" · "),
        " — majority ", h("strong", { text: t.majority })),
      h("p", { class: "dissent" }, h("strong", { text: "Dissent: " }),
        t.dissent.length ? t.dissent.map((a) => `${a.agent} (${a.response.stance || a.response.recommendation})`).join(", ") : "none")]
    : []));
}
