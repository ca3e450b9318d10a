// An execution rebuilt from its journal, event by event (the same events the CLI and the store see).
export function newModel(id) {
  return { id, status: "pending", task: null, input: null, verdict: null, started: null, ended: null,
    durationMs: null, error: null, lastSeq: 0, phaseOrder: [], phases: new Map(), calls: new Map(),
    checkpoints: [], children: new Map(), changedPhases: new Set(), changed: new Set(), lastTime: null };
}

function phase(model, name) {
  if (!model.phases.has(name)) {
    model.phases.set(name, { name, status: "pending", attempt: 0, started: null, ended: null, duration_ms: null,
      steps: new Map(), outputs: null, error: null, skipped_reason: null, retries: [], warnings: [] });
    if (!model.phaseOrder.includes(name)) model.phaseOrder.push(name);
  }
  return model.phases.get(name);
}

const ENDED = { "execution:complete": null, "execution:error": "failed", "execution:timeout": "timeout",
  "execution:aborted": "aborted" };

export function apply(model, ev) {
  model.lastSeq = ev.sequence;
  model.lastTime = ev.timestamp;
  const d = ev.data || {};
  const p = ev.phase ? phase(model, ev.phase) : null;
  if (p) model.changedPhases.add(p.name);
  // what to draw again: the DAG when a phase moves, the timeline when a phase or a call does
  if (ev.type.startsWith("phase:") || ev.type.startsWith("execution:")) { model.changed.add("dag"); model.changed.add("gantt"); }
  else if (ev.type.startsWith("agent:")) model.changed.add("gantt");
  switch (ev.type) {
    case "execution:start":
      model.task = ev.task; model.input = d.input || model.input; model.status = "running";
      model.started = model.started || ev.timestamp;
      for (const name of d.phases || []) phase(model, name);
      model.changed.add("input");
      break;
    case "execution:paused": model.status = "paused"; break;
    case "execution:resumed": model.status = "running"; break;
    case "execution:complete": case "execution:error": case "execution:timeout": case "execution:aborted":
      model.status = ENDED[ev.type] || d.status || "completed";
      model.ended = ev.timestamp; model.durationMs = ev.duration_ms; model.error = ev.error;
      if (d.verdict) { model.verdict = d.verdict; model.changed.add("memo"); }
      break;
    case "phase:start":
      p.status = "running"; p.attempt = d.attempt || 1; p.started = p.started || ev.timestamp; p.ended = null;
      break;
    case "phase:retry":
      p.status = "retrying"; p.retries.push({ at: ev.timestamp, attempt: d.attempt, error: ev.error }); break;
    case "phase:complete":
      p.status = "completed"; p.ended = ev.timestamp; p.duration_ms = ev.duration_ms; p.outputs = d.outputs || {};
      p.warnings = d.warnings || []; break;
    case "phase:failed":
      p.status = "failed"; p.ended = ev.timestamp; p.duration_ms = ev.duration_ms; p.error = ev.error; break;
    case "phase:skipped":
      p.status = "skipped"; p.skipped_reason = d.reason || null; p.started = p.ended = ev.timestamp; break;
    case "step:start":
      p.steps.set(ev.step, { index: ev.step, kind: d.kind, type: d.type, status: "running", duration_ms: null }); break;
    case "step:complete": {
      // an aggregate step's event carries the aggregator's own result (journals before it do not)
      const step = p.steps.get(ev.step) || { index: ev.step, kind: d.kind, type: d.type };
      p.steps.set(ev.step, { ...step, status: "completed", duration_ms: ev.duration_ms,
        result: d.result === undefined ? null : d.result, truncated: Boolean(d.truncated) }); break;
    }
    case "child:started": case "child:ended": {
      // the executions this one's task: steps started (a recovery re-attaching sends child:started again)
      const id = d.child_id;
      if (!id) break;
      const known = model.children.get(id) || { id, task: d.task, version: d.version || null, phase: ev.phase,
        step: ev.step, index: d.index ?? null, status: "running", error: null, duration_ms: null };
      if (ev.type === "child:ended") {
        known.status = d.status || (ev.error ? "failed" : "completed"); known.error = ev.error || null;
        known.duration_ms = ev.duration_ms;
      }
      model.children.set(id, known);
      model.changed.add("children");
      break;
    }
    case "agent:start": {
      const key = d.call_key || `${ev.phase}/${ev.step}/${ev.agent}/${ev.sequence}`;
      model.calls.set(key, { key, phase: ev.phase, step: ev.step, agent: ev.agent, round: d.round || 0,
        attempt: d.attempt || 1, started: ev.timestamp, ended: null, status: "running", response: null, error: null });
      break;
    }
    case "agent:response": case "agent:error": {
      const key = d.call_key || `${ev.phase}/${ev.step}/${ev.agent}`;
      const call = model.calls.get(key) || { key, phase: ev.phase, step: ev.step, agent: ev.agent, round: d.round || 0,
        attempt: d.attempt || 1, started: ev.timestamp - (ev.duration_ms || 0) / 1000 };
      call.ended = ev.timestamp;
      call.duration_ms = ev.duration_ms;
      if (ev.type === "agent:response") { call.status = "ok"; call.response = d.response || null; }
      else {
        const text = String(ev.error || d.error || "error");
        call.status = /timeout|timed out/i.test(text) ? "timeout" : "error";
        call.error = text;
      }
      model.calls.set(key, call);
      break;
    }
    case "approval:requested": model.status = "waiting"; break;
    case "approval:decided": if (model.status === "waiting") model.status = "running"; break;
    case "checkpoint:created":
      model.checkpoints.push({ id: d.checkpoint_id, label: d.label, phase: d.phase }); model.changed.add("checkpoints"); break;
    default: break;
  }
  if (ev.type.startsWith("execution:") || ev.type.startsWith("approval:")) model.changed.add("status");
}

export function callsOf(model, phaseName) {
  return [...model.calls.values()].filter((c) => c.phase === phaseName);
}
