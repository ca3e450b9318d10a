// Start a run: a form made from the task's requirements (JSON Schema); the server validates, and each
// problem it reports is shown beside its field.
import { ApiError, api, problemText } from "./api.js";
import { $, append, h, replace } from "./dom.js";

const form = $("#start");
const select = $("#task");
const fields = $("#fields");
let schema = null;

function field(name, prop, required) {
  const id = `field-${name}`;
  const errorId = `${id}-error`;
  let input;
  if (Array.isArray(prop.enum)) {
    input = h("select", { id, name },
      required ? null : h("option", { value: "", text: "—" }),
      prop.enum.map((v) => h("option", { value: String(v), text: String(v), selected: prop.default === v })));
  } else if (prop.type === "boolean") {
    input = h("input", { id, name, type: "checkbox", checked: prop.default === true });
  } else if (prop.type === "number" || prop.type === "integer") {
    input = h("input", { id, name, type: "number", step: prop.type === "integer" ? "1" : "any", inputmode: "decimal",
      min: prop.minimum, max: prop.maximum, value: prop.default });
  } else if (prop.type === "array" || prop.type === "object") {
    input = h("textarea", { id, name, rows: 3, placeholder: prop.type === "array" ? '["a", "b"]' : '{"key": "value"}' });
    if (prop.default !== undefined) input.value = JSON.stringify(prop.default);
  } else {
    input = h("input", { id, name, type: "text", value: prop.default, autocomplete: "off" });
  }
  input.dataset.type = prop.type;
  input.setAttribute("aria-describedby", errorId);
  if (required) input.setAttribute("aria-required", "true");
  const range = prop.minimum !== undefined || prop.maximum !== undefined
    ? ` (${prop.minimum ?? "…"} to ${prop.maximum ?? "…"})` : "";
  return h("div", { class: "field", "data-field": name },
    h("label", { for: id }, h("span", { class: "name", text: name }), required ? h("span", { class: "required", text: " (required)" }) : null),
    input,
    prop.description || range ? h("p", { class: "hint", text: `${prop.description || ""}${range}` }) : null,
    h("p", { id: errorId, class: "error field-error", role: "alert", hidden: true }));
}

async function choose(name) {
  replace(fields, h("legend", { text: "Input" }));
  schema = null;
  if (!name) return;
  const task = await api(`/tasks/${encodeURIComponent(name)}`);
  schema = task.requirements;
  replace($("#task-description"), task.description || task.title || "");
  const required = new Set(schema.required || []);
  for (const [key, prop] of Object.entries(schema.properties || {})) fields.append(field(key, prop, required.has(key)));
  form.dataset.ready = "1";
}

function collect() {
  const input = {};
  const local = [];
  for (const el of fields.querySelectorAll("input, select, textarea")) {
    const type = el.dataset.type;
    if (type === "boolean") { input[el.name] = el.checked; continue; }
    const raw = el.value.trim();
    if (raw === "") continue;  // left out: the server says whether it is required
    if (type === "number" || type === "integer") input[el.name] = Number(raw);
    else if (type === "array" || type === "object") {
      try { input[el.name] = JSON.parse(raw); } catch { local.push(`${el.name}: not valid JSON (${raw.slice(0, 30)})`); }
    } else input[el.name] = raw;
  }
  return { input, local };
}

function showErrors(messages) {
  for (const p of form.querySelectorAll(".field-error")) { p.hidden = true; replace(p); }
  for (const el of fields.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const general = [];
  for (const message of messages) {
    const name = message.split(":", 1)[0].trim().split(".")[0];
    const box = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (box) {
      const p = box.querySelector(".field-error");
      p.append(h("span", { "aria-hidden": "true", text: "⚠ " }), message.slice(name.length + 1).trim() || message, " ");
      p.hidden = false;
      box.querySelector("input, select, textarea").setAttribute("aria-invalid", "true");
    } else general.push(message);
  }
  replace($("#form-error"), general.join("; "));
  $("#form-error").hidden = general.length === 0;
  const first = form.querySelector("[aria-invalid]");
  if (first) first.focus();
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!schema) return;
  const { input, local } = collect();
  if (local.length) { showErrors(local); return; }
  const model = $("#model").value.trim();
  try {
    const created = await api("/executions", { method: "POST", body: { task: select.value, input, ...(model ? { model } : {}) } });
    location.assign(`/executions/${encodeURIComponent(created.id)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 422 && error.problem.errors) showErrors(error.problem.errors);
    else showErrors([problemText(error)]);
  }
});

api("/tasks").then((tasks) => {
  const wanted = form.dataset.task;
  append(select, [h("option", { value: "", text: "— pick a task —" }),
    tasks.map((t) => h("option", { value: t.name, text: t.title ? `${t.name} — ${t.title}` : t.name, selected: t.name === wanted }))]);
  select.addEventListener("change", () => choose(select.value));
  if (select.value) choose(select.value);
});
