// The phase DAG as SVG, left to right by dependency depth; the critical path drawn thick and dashed
// and named in text below the figure (not by colour alone).
import { badge, duration, h, replace, s } from "./dom.js";

const W = 170, H = 58, GAP_X = 60, GAP_Y = 18, PAD = 10;

export function layout(graph) {
  const depth = new Map();
  const visit = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    const deps = graph[name] || [];
    const d = deps.length ? 1 + Math.max(...deps.map((dep) => visit(dep, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  Object.keys(graph).forEach((name) => visit(name));
  const columns = [];
  for (const name of Object.keys(graph)) {
    const d = depth.get(name);
    (columns[d] = columns[d] || []).push(name);
  }
  const pos = new Map();
  columns.forEach((names, col) => names.forEach((name, row) => {
    pos.set(name, { x: PAD + col * (W + GAP_X), y: PAD + row * (H + GAP_Y) });
  }));
  const width = PAD * 2 + columns.length * W + Math.max(0, columns.length - 1) * GAP_X;
  const height = PAD * 2 + Math.max(1, ...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
  return { pos, width, height };
}

// phases: name -> {status, duration_ms}; graph: name -> [dependencies]; critical: [names]
// The figure is drawn once per graph; after that only the nodes whose state or duration changed are
// touched (an attribute and two texts each), so a phase event costs the same on a page of 3 phases
// as on one of 300.
export function renderDag(container, graph, critical, phases = new Map()) {
  const key = `${JSON.stringify(graph)}|${critical.join("→")}`;
  const drawn = DRAWN.get(container);
  if (drawn && drawn.key === key && container.contains(drawn.svg)) {
    for (const [name, node] of drawn.nodes) updateNode(node, name, phases.get(name));
    return;
  }
  const { pos, width, height } = layout(graph);
  const onPath = new Set();
  for (let i = 1; i < critical.length; i += 1) onPath.add(`${critical[i - 1]}→${critical[i]}`);
  const edges = [];
  for (const [name, deps] of Object.entries(graph)) {
    for (const dep of deps) {
      const a = pos.get(dep), b = pos.get(name);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      const crit = onPath.has(`${dep}→${name}`);
      edges.push(s("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 6},${y2}`,
        class: crit ? "edge critical" : "edge", "marker-end": "url(#arrow)" }));
    }
  }
  const crits = new Set(critical);
  const nodes = new Map();
  for (const name of Object.keys(graph)) {
    const p = pos.get(name);
    const crit = crits.has(name);
    const node = { crit, state: "", g: null, title: s("title"), status: s("text", { x: 10, y: 38, class: "state" }),
      dur: s("text", { x: 10, y: 52, class: "dur" }) };
    node.g = s("g", { class: "node", transform: `translate(${p.x},${p.y})`, "data-phase": name, role: "listitem" },
      node.title, s("rect", { width: W, height: H, rx: 8 }),
      s("text", { x: 10, y: 20, class: "name", text: name.length > 22 ? `${name.slice(0, 21)}…` : name }),
      node.status, node.dur);
    updateNode(node, name, phases.get(name));
    nodes.set(name, node);
  }
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "dag", role: "list",
    "aria-label": "Phase graph, left to right by dependency" },
  s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 6, markerHeight: 6,
    orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))),
  edges, [...nodes.values()].map((n) => n.g));
  DRAWN.set(container, { key, svg, nodes });
  replace(container, svg);
}

const DRAWN = new WeakMap();

function updateNode(node, name, state = {}) {
  const status = state.status || "pending";
  const took = state.duration_ms != null ? duration(state.duration_ms) : "";
  const now = `${status}|${took}`;
  if (node.state === now) return;
  node.state = now;
  const label = `${name}: ${status}${took ? `, ${took}` : ""}${node.crit ? ", on the critical path" : ""}`;
  node.g.setAttribute("class", `node status-${status}${node.crit ? " critical" : ""}`);
  node.g.setAttribute("aria-label", label);
  node.title.textContent = label;
  node.status.textContent = `${ICON[status] || "•"} ${status}`;
  node.dur.textContent = `${took}${node.crit ? "  ★ critical" : ""}`;
  node.g.setAttribute("data-status", status);  // last: what a watcher of the figure waits for
}

const ICON = { pending: "○", running: "◔", completed: "✓", failed: "✗", skipped: "↷", retrying: "↻", paused: "⏸", waiting: "⌛" };

export function criticalText(el, critical) {
  replace(el, critical.length ? [h("strong", { text: "Critical path (★): " }), critical.join(" → ")] : "");
}

export { badge };
