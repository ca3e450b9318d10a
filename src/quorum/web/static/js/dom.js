// Building DOM with createElement and text nodes only (no HTML parsing of data): every dynamic value becomes a text node or an attribute value.
const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") el.textContent = String(value);
    else if (key === "class") el.setAttribute("class", value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function h(tag, attrs = {}, ...children) { return build(document.createElement(tag), attrs, children); }
export function s(tag, attrs = {}, ...children) { return build(document.createElementNS(SVG_NS, tag), attrs, children); }

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));  // a string becomes a text node
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }
export function replace(el, ...children) { clear(el); return append(el, children); }
export function $(selector, root = document) { return root.querySelector(selector); }

// status: never colour alone — an icon and the word go with it
const ICONS = { pending: "○", running: "◔", paused: "⏸", waiting: "⌛", completed: "✓", failed: "✗",
  aborted: "■", timeout: "⏱", skipped: "↷", retrying: "↻", ok: "✓", error: "✗" };
export function badge(status) {
  const text = status || "unknown";
  return h("span", { class: `badge status-${text}`, "data-status": text },
    h("span", { "aria-hidden": "true", text: `${ICONS[text] || "•"} ` }), text);
}
export function setBadge(el, status) {
  const b = badge(status);
  el.className = b.className; el.dataset.status = b.dataset.status; replace(el, ...b.childNodes);
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const secs = ms / 1000;
  if (secs < 60) return `${secs.toFixed(secs < 10 ? 2 : 1)} s`;
  const mins = Math.floor(secs / 60);
  return mins < 60 ? `${mins} min ${Math.round(secs % 60)} s` : `${Math.floor(mins / 60)} h ${mins % 60} min`;
}

// one formatter each: making one per call (toLocaleString) costs more than the rest of a row
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

export function when(epoch) { return epoch ? DATE_TIME.format(new Date(epoch * 1000)) : ""; }

export function clock(epoch) { return epoch ? TIME.format(new Date(epoch * 1000)) : ""; }

// a value of any JSON shape, as nested lists (objects: a definition list)
export function value(v) {
  if (v === null || v === undefined) return h("span", { class: "none", text: "—" });
  if (Array.isArray(v)) {
    if (!v.length) return h("span", { class: "none", text: "none" });
    return h("ul", { class: "values" }, v.map((item) => h("li", {}, value(item))));
  }
  if (typeof v === "object") {
    const keys = Object.keys(v);
    if (!keys.length) return h("span", { class: "none", text: "—" });
    return h("dl", { class: "values" }, keys.map((k) => [h("dt", { text: k }), h("dd", {}, value(v[k]))]));
  }
  if (typeof v === "number") return document.createTextNode(Number.isInteger(v) ? String(v) : String(+v.toFixed(4)));
  return document.createTextNode(String(v));
}

export function scalar(v) {
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
