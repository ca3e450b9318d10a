// The API from the page: fetch (session cookie, same origin) and Server-Sent Events that reconnect.
import { $, replace } from "./dom.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch(`/api/v1${path}`, init);
  const type = answer.headers.get("content-type") || "";
  const data = type.includes("json") ? await answer.json() : await answer.text();
  if (answer.status === 401) {
    location.reload();  // the session ended: the login page
  }
  if (!answer.ok) throw new ApiError(answer.status, typeof data === "object" ? data : { detail: data });
  return data;
}

// every type of quorum.events.EventType (an EventSource hears only the named events it listens for;
// tests/web/test_web_aggregation_tree.py keeps the two lists equal)
export const EVENT_TYPES = [
  "execution:start", "execution:complete", "execution:error", "execution:timeout", "execution:paused",
  "execution:resumed", "execution:aborted", "phase:start", "phase:complete", "phase:failed",
  "phase:retry", "phase:skipped", "phase:slow", "step:start", "step:complete", "agent:start",
  "agent:response", "agent:error", "agent:chunk", "checkpoint:created", "approval:requested",
  "approval:decided", "child:started", "child:ended", "cache:unavailable",
];

// The live indicator in the header: text and an icon, not colour alone.
export function showLive(state) {
  const el = $("#live");
  if (!el) return;
  const text = { live: "● live", reconnecting: "◌ reconnecting…", ended: "○ ended", idle: "○ not live" };
  el.dataset.state = state;
  replace(el, text[state] || state);
}

// Follow an event stream. EventSource reconnects by itself and sends Last-Event-ID; when it gives up
// (the server was down long enough, or answered an error), a new one starts after the last event seen
// (?after= for an execution's stream). Events already seen are dropped: nothing twice, nothing lost.
export function follow(path, { onEvent, onReconnect, perExecution = true, after = 0 }) {
  let lastSeq = after;
  let source = null;
  let stopped = false;
  let delay = 500;
  const open = () => {
    const url = perExecution && lastSeq ? `/api/v1${path}?after=${lastSeq}` : `/api/v1${path}`;
    source = new EventSource(url);
    source.onopen = () => { delay = 500; showLive("live"); };
    source.onerror = () => {
      if (stopped) return;
      showLive("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(() => { if (!stopped) { open(); if (onReconnect) onReconnect(); } }, delay);
        delay = Math.min(delay * 2, 5000);
      }
    };
    const handle = (message) => {
      const event = JSON.parse(message.data);
      if (perExecution) {
        if (event.sequence <= lastSeq) return;
        lastSeq = event.sequence;
      }
      onEvent(event);
      if (perExecution && /^execution:(complete|error|timeout|aborted)$/.test(event.type)) {
        stop();
        showLive("ended");
      }
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, handle);
  };
  const stop = () => { stopped = true; if (source) source.close(); };
  open();
  return { stop, get lastSeq() { return lastSeq; } };
}

export function problemText(error) {
  if (!(error instanceof ApiError)) return String(error && error.message ? error.message : error);
  const more = (error.problem.errors || []).join("; ");
  return more ? `${error.message}: ${more}` : error.message;
}
