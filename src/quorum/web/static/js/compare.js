// Two executions of one task side by side; a row whose values differ is marked ≠ (and highlighted).
import { api, problemText } from "./api.js";
import { $, duration, h, replace, scalar } from "./dom.js";
import { apply, newModel } from "./model.js";

const form = $("#pick");

async function journal(id) {
  const exported = await api(`/executions/${encodeURIComponent(id)}/export?format=json`);
  return exported;
}

function modelOf(detail, exported) {
  const model = newModel(detail.id);
  for (const ev of exported.events || []) apply(model, ev);
  return model;
}

function rowsOf(detail, model) {
  const rows = new Map();
  const put = (group, key, v) => rows.set(`${group}\u0000${key}`, { group, key, v });
  for (const [k, v] of Object.entries(detail.input || {})) put("Input", k, scalar(v));
  put("Execution", "status", detail.status);
  put("Execution", "duration", duration(detail.duration_ms));
  for (const p of detail.phases || []) {
    put("Phase duration", p.name, p.status === "completed" ? duration(p.duration_ms) : p.status);
  }
  for (const c of model.calls.values()) {
    const r = c.response || {};
    const key = `${c.phase} · ${c.agent}${c.round ? ` r${c.round}` : ""}`;
    put("Stance", key, r.stance || r.recommendation || (c.error ? `✗ ${c.error}` : ""));
    put("Confidence", key, r.confidence != null ? `${Math.round(r.confidence * 100)}%` : "");
  }
  for (const p of model.phases.values()) {
    // the aggregators' own counts where the journal has them (a consensus or a vote over final
    // positions, a from= phase); else the stances recounted
    const results = [...p.steps.values()].filter((st) => st.kind === "aggregate" && st.result)
      .sort((x, y) => x.index - y.index).map((st) => st.result);
    const found = results.find((r) => r.counts || r.tally);
    if (found) {
      const counts = found.counts || found.tally;
      const winner = found.consensus ?? found.winner;
      put("Votes", p.name, Object.entries(counts).sort().map(([k, n]) => `${k} ${n}`).join(", ") + (winner != null ? ` → ${winner}` : ""));
      continue;
    }
    const counts = {};
    for (const c of model.calls.values()) {
      const stance = c.phase === p.name && c.response && (c.response.stance || c.response.recommendation);
      if (stance) counts[stance] = (counts[stance] || 0) + 1;
    }
    if (Object.keys(counts).length) put("Votes", p.name, Object.entries(counts).sort().map(([k, n]) => `${k} ${n}`).join(", "));
  }
  for (const [k, v] of Object.entries(detail.verdict || {})) put("Verdict", k, scalar(v));
  return rows;
}

async function compare(a, b) {
  const box = $("#compare-error");
  box.hidden = true;
  try {
    const [da, db] = await Promise.all([api(`/executions/${encodeURIComponent(a)}`), api(`/executions/${encodeURIComponent(b)}`)]);
    if (da.task !== db.task) throw new Error(`these are executions of two tasks (${da.task}, ${db.task}); compare two runs of one task`);
    const [ea, eb] = await Promise.all([journal(da.id), journal(db.id)]);
    const ra = rowsOf(da, modelOf(da, ea)), rb = rowsOf(db, modelOf(db, eb));
    const keys = [...new Set([...ra.keys(), ...rb.keys()])];
    let differing = 0;
    const body = keys.map((key) => {
      const x = ra.get(key), y = rb.get(key);
      const { group, key: name } = x || y;
      const va = x ? x.v : "—", vb = y ? y.v : "—";
      const differs = va !== vb;
      if (differs) differing += 1;
      return h("tr", { class: differs ? "differs" : null, "data-group": group, "data-key": name, "data-differs": differs ? "1" : "0" },
        h("td", { class: "mark", text: differs ? "≠" : "" , "aria-label": differs ? "differs" : "same" }),
        h("th", { scope: "row" }, h("span", { class: "group", text: `${group}: ` }), name),
        h("td", { text: va }), h("td", { text: vb }));
    });
    replace($("#comparison"), h("table", { class: "list compare", "data-differing": differing },
      h("caption", { text: `${da.task}: ${differing} of ${keys.length} rows differ` }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "" }), h("th", { scope: "col", text: "" }),
        h("th", { scope: "col" }, h("a", { href: `/executions/${da.id}`, class: "mono", text: da.id })),
        h("th", { scope: "col" }, h("a", { href: `/executions/${db.id}`, class: "mono", text: db.id })))),
      h("tbody", {}, body)));
    $("#compare-legend").hidden = false;
    history.replaceState(null, "", `/compare?a=${encodeURIComponent(da.id)}&b=${encodeURIComponent(db.id)}`);
  } catch (error) {
    replace(box, problemText(error));
    box.hidden = false;
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const a = form.elements.a.value.trim(), b = form.elements.b.value.trim();
  if (a && b) compare(a, b);
});
api("/web/executions?limit=100").then((page) => {
  replace($("#recent"), page.items.map((i) => h("option", { value: i.id, text: `${i.task} · ${i.status}` })));
}).catch(() => {});
if (form.elements.a.value && form.elements.b.value) compare(form.elements.a.value, form.elements.b.value);
