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

export function renderPhase(section, model, name) {
  const p = model.phases.get(name);
  const status = section.querySelector(".phase-status");
  replace(status, badge(p.status), p.duration_ms != null ? ` ${duration(p.duration_ms)}` : "",
    p.attempt > 1 ? ` (attempt ${p.attempt})` : "");
  section.dataset.status = p.status;
  const parts = [];
  if (p.skipped_reason) parts.push(h("p", { class: "note", text: `Skipped: ${p.skipped_reason}` }));
  if (p.error) parts.push(h("p", { class: "error", text: `✗ ${p.error}` }));
  for (const r of p.retries) parts.push(h("p", { class: "note", text: `↻ retry (attempt ${r.attempt || "?"})${r.error ? `: ${r.error}` : ""}` }));
  if (p.steps.size) {
    parts.push(h("h4", { text: "Steps" }), h("ol", { class: "steps", start: 0 }, [...p.steps.values()].sort((a, b) => a.index - b.index)
      .map((st) => h("li", {}, `${st.kind || "step"}${st.type ? ` (${st.type})` : ""} `, badge(st.status),
        st.duration_ms != null ? ` ${duration(st.duration_ms)}` : ""))));
  }
  const calls = callsOf(model, name);
  if (calls.length) {
    parts.push(h("h4", { text: "Answers" }), h("div", { class: "scroll" }, h("table", { class: "list answers" },
      h("thead", {}, h("tr", {}, ["Agent", "Call", "Stance", "Confidence", "Rationale", "Data used"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, calls.map((c) => {
        const r = c.response || {};
        return h("tr", { "data-agent": c.agent, "data-call": c.key },
          h("th", { scope: "row", text: c.agent }),
          h("td", {}, badge(c.status), c.attempt > 1 ? ` ↻ attempt ${c.attempt}` : "", c.round ? ` round ${c.round}` : "",
            c.duration_ms != null ? ` ${duration(c.duration_ms)}` : ""),
          h("td", { class: "stance", text: r.stance || r.recommendation || "" }),
          h("td", { text: r.confidence != null ? `${Math.round(r.confidence * 100)}%` : "" }),
          h("td", { class: "rationale", text: c.error || r.rationale || r.text || "" }),
          h("td", { class: "data-used" }, r.data && Object.keys(r.data).length ? dataUsed(r.data) : ""));
      })))));
    const aggregates = [...p.steps.values()].filter((st) => st.kind === "aggregate");
    const t = tally(calls);
    if (t.ordered.length) {
      parts.push(h("h4", { text: aggregates.length ? `Aggregation: ${aggregates.map((a) => a.type || "aggregate").join(", ")}` : "Stances" }),
        h("p", { class: "tally" }, h("strong", { text: "Tally: " }), t.ordered.map(([k, n]) => `${k} ${n}`).join(" · "),
          " — majority ", h("strong", { text: t.majority })),
        h("p", { class: "dissent" }, h("strong", { text: "Dissent: " }),
          t.dissent.length ? t.dissent.map((a) => `${a.agent} (${a.response.stance || a.response.recommendation})`).join(", ") : "none"));
    }
  }
  if (p.outputs && Object.keys(p.outputs).length) parts.push(h("h4", { text: "Outputs" }), value(p.outputs));
  replace(section.querySelector(".phase-body"), parts.length ? parts : h("p", { class: "note", text: p.status === "pending" ? "Not started." : "…" }));
}
