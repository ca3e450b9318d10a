// The verdict as a memo: the decision first, then conviction, sizing, risk, conditions, votes, review,
// then anything else the task's output holds.
import { h, replace, value } from "./dom.js";

const ORDER = [
  ["decision", "Decision"], ["conviction", "Conviction"], ["confidence", "Confidence"],
  ["approved_amount", "Sizing"], ["sizing", "Sizing"], ["position_size", "Sizing"], ["risk", "Risk"],
  ["conditions", "Conditions"], ["votes", "Votes"], ["vote", "Votes"], ["dissent", "Dissent"],
  ["review", "Review"], ["approvals", "Approvals"],
];

export function renderMemo(container, verdict, status) {
  if (!verdict || typeof verdict !== "object") {
    replace(container, h("p", { class: "note", text: status === "completed" ? "This execution has no verdict." : "No verdict yet." }));
    return;
  }
  const seen = new Set();
  const rows = [];
  for (const [key, title] of ORDER) {
    if (!(key in verdict)) continue;
    seen.add(key);
    rows.push(h("dt", { text: title }), h("dd", { "data-field": key }, value(verdict[key])));
  }
  for (const key of Object.keys(verdict)) {
    if (seen.has(key)) continue;
    rows.push(h("dt", { text: key }), h("dd", { "data-field": key }, value(verdict[key])));
  }
  replace(container, h("article", { class: "memo", "aria-label": "Verdict memo" },
    verdict.decision !== undefined ? h("p", { class: "decision" }, h("strong", { text: String(verdict.decision) })) : null,
    h("dl", {}, rows)));
}
