// A Runwire agent run in a web page, with the browser entry point of the
// TypeScript client (@runwire/client/web: Connect over fetch to the server's
// HTTP listener).
//
// Start: StreamRun with the prompt; text deltas, tool calls (name, arguments,
// result) and approvals (Approve / Reject: ResolveApproval) are rendered as
// they stream. Every event is kept, in a plain form, in sessionStorage with the
// run's id and last sequence; after a reload the page renders them again and
// follows the run with StreamRunEvents after that sequence, so nothing is lost
// or shown twice and a pending approval shows again.
//
// Inputs come from the form, prefilled from the query string:
// ?server=http://127.0.0.1:8081&agent=my-agent&token=...&prompt=...&binary=1

import {
  ApprovalState,
  RunState,
  RunwireError,
  RunwireWebClient,
  newRequestId,
  type RunEvent,
  type RunEventStream,
} from "@runwire/client/web";

/** One event as the page keeps it: its sequence, its kind and the fields the page shows. */
interface EventRecord {
  readonly seq: number;
  readonly kind: string;
  /** Message id (text events) or tool call id (tool events, approvals). */
  readonly id?: string;
  readonly text?: string;
  readonly name?: string;
  readonly args?: string;
  readonly isError?: boolean;
  readonly approvalId?: string;
  readonly state?: string;
}

/** What sessionStorage keeps of the current run (the token is not kept: it comes from the form or the URL). */
interface Saved {
  readonly baseUrl: string;
  readonly agentId: string;
  readonly prompt: string;
  /** StreamRun's requestId: a reload before the first event repeats StreamRun with it and gets the same run. */
  readonly requestId: string;
  runId: string;
  lastSequence: number;
  records: EventRecord[];
}

const STORAGE_KEY = "runwire-example-run";
const TERMINAL_STATES = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`no #${id} in the page`);
  return found as T;
}

const form = element<HTMLFormElement>("start-form");
const serverInput = element<HTMLInputElement>("server-url");
const agentInput = element<HTMLInputElement>("agent-id");
const tokenInput = element<HTMLInputElement>("token");
const promptInput = element<HTMLTextAreaElement>("prompt");
const forgetButton = element<HTMLButtonElement>("forget");
const runIdView = element("run-id");
const runStateView = element("run-state");
const statusView = element("status");
const errorView = element("error");
const transcript = element("transcript");
const finalOutput = element("final-output");
const eventList = element("events");

const query = new URLSearchParams(location.search);
serverInput.value = query.get("server") ?? "http://127.0.0.1:8081";
agentInput.value = query.get("agent") ?? "";
tokenInput.value = query.get("token") ?? "";
promptInput.value = query.get("prompt") ?? "";
const useBinaryFormat = query.get("binary") === "1";

let saved: Saved | undefined;
let stream: RunEventStream | undefined;

function client(baseUrl: string): RunwireWebClient {
  return new RunwireWebClient(baseUrl, {
    token: tokenInput.value,
    useBinaryFormat,
    // A lost connection (or a draining server) ends the stream; the client
    // follows the run again after the last sequence it saw, by itself.
    reconnect: {
      onResume: ({ afterSequence, error }) => {
        statusView.textContent = `reconnecting after sequence ${afterSequence} (${error.codeName})`;
      },
    },
  });
}

function load(): Saved | undefined {
  const text = sessionStorage.getItem(STORAGE_KEY);
  return text === null ? undefined : (JSON.parse(text) as Saved);
}

function save(): void {
  if (saved !== undefined) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
}

/** The plain record of an event (only what the page renders). */
function toRecord(event: RunEvent): EventRecord {
  const seq = Number(event.sequence);
  const p = event.payload;
  switch (p.case) {
    case "textMessageStart":
      return { seq, kind: p.case, id: p.value.messageId };
    case "textMessageContent":
      return { seq, kind: p.case, id: p.value.messageId, text: p.value.delta };
    case "textMessageEnd":
      return { seq, kind: p.case, id: p.value.messageId, text: p.value.text };
    case "messageDiscarded":
      return { seq, kind: p.case, id: p.value.messageId };
    case "toolCallStart":
      return { seq, kind: p.case, id: p.value.toolCallId, name: p.value.toolCallName };
    case "toolCallArgs":
      return { seq, kind: p.case, id: p.value.toolCallId, text: p.value.delta };
    case "toolCallEnd":
      return { seq, kind: p.case, id: p.value.toolCallId, args: p.value.arguments };
    case "toolCallResult":
      return { seq, kind: p.case, id: p.value.toolCallId, text: p.value.content, isError: p.value.isError };
    case "approvalRequested":
      return {
        seq,
        kind: p.case,
        id: p.value.toolCallId,
        approvalId: p.value.approvalId,
        name: p.value.toolName,
        args: p.value.arguments,
      };
    case "approvalResolved":
      return { seq, kind: p.case, approvalId: p.value.approvalId, state: ApprovalState[p.value.state] };
    case "stateChanged":
      return { seq, kind: p.case, state: RunState[p.value.state] };
    case "runFinished":
      return { seq, kind: p.case, state: RunState[p.value.state], text: p.value.output };
    case "runError":
      return { seq, kind: p.case, state: "FAILED", text: p.value.error?.message ?? "" };
    default:
      return { seq, kind: p.case ?? "unknown" };
  }
}

/** The transcript element with `data-key` = key, made by `make` and appended if missing. */
function part(key: string, make: () => HTMLElement): HTMLElement {
  const existing = transcript.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`);
  if (existing !== null) return existing;
  const created = make();
  created.dataset["key"] = key;
  transcript.append(created);
  return created;
}

function div(className: string, testId: string): HTMLElement {
  const node = document.createElement("div");
  node.className = className;
  node.dataset["testid"] = testId;
  return node;
}

function message(id: string): HTMLElement {
  return part(`message:${id}`, () => div("message", "message"));
}

function toolCall(id: string): HTMLElement {
  return part(`tool:${id}`, () => {
    const node = div("tool-call", "tool-call");
    node.dataset["toolCallId"] = id;
    const name = document.createElement("strong");
    name.className = "tool-name";
    name.dataset["testid"] = "tool-name";
    const args = document.createElement("pre");
    args.className = "tool-args";
    args.dataset["testid"] = "tool-args";
    const result = document.createElement("pre");
    result.className = "tool-result";
    result.dataset["testid"] = "tool-result";
    node.append(name, args, result);
    return node;
  });
}

function child(parent: HTMLElement, className: string): HTMLElement {
  const found = parent.querySelector<HTMLElement>(`.${className}`);
  if (found === null) throw new Error(`no .${className}`);
  return found;
}

function setRunState(state: string): void {
  runStateView.textContent = state;
  runStateView.dataset["state"] = state;
}

/** Renders one event record (live, or again after a reload). */
function render(record: EventRecord): void {
  const item = document.createElement("li");
  item.dataset["testid"] = "event";
  item.dataset["seq"] = String(record.seq);
  item.dataset["kind"] = record.kind;
  item.textContent = `[${record.seq}] ${record.kind}`;
  eventList.append(item);

  const id = record.id ?? "";
  switch (record.kind) {
    case "textMessageStart":
      message(id);
      break;
    case "textMessageContent":
      message(id).textContent += record.text ?? "";
      break;
    case "textMessageEnd":
      message(id).textContent = record.text ?? "";
      break;
    case "messageDiscarded":
      transcript.querySelector(`[data-key="${CSS.escape(`message:${id}`)}"]`)?.remove();
      break;
    case "toolCallStart":
      child(toolCall(id), "tool-name").textContent = record.name ?? "";
      break;
    case "toolCallArgs":
      child(toolCall(id), "tool-args").textContent += record.text ?? "";
      break;
    case "toolCallEnd":
      child(toolCall(id), "tool-args").textContent = record.args ?? "";
      break;
    case "toolCallResult": {
      const result = child(toolCall(id), "tool-result");
      result.textContent = `→ ${record.text ?? ""}`;
      result.classList.toggle("error", record.isError === true);
      break;
    }
    case "approvalRequested":
      renderApproval(record);
      break;
    case "approvalResolved": {
      const node = transcript.querySelector<HTMLElement>(
        `[data-key="${CSS.escape(`approval:${record.approvalId ?? ""}`)}"]`,
      );
      if (node !== null) {
        node.querySelectorAll("button").forEach((button) => button.remove());
        node.dataset["state"] = record.state ?? "";
        child(node, "approval-state").textContent = record.state ?? "";
      }
      break;
    }
    case "stateChanged":
      setRunState(record.state ?? "");
      break;
    case "runFinished":
    case "runError":
      setRunState(record.state ?? "");
      finalOutput.textContent = record.text ?? "";
      break;
  }
}

function renderApproval(record: EventRecord): void {
  const approvalId = record.approvalId ?? "";
  const node = part(`approval:${approvalId}`, () => div("approval", "approval"));
  node.dataset["approvalId"] = approvalId;
  node.dataset["state"] = "PENDING";
  const text = document.createElement("span");
  text.textContent = `${record.name ?? ""} wants to run with ${record.args ?? ""} `;
  const state = document.createElement("em");
  state.className = "approval-state";
  state.dataset["testid"] = "approval-state";
  state.textContent = "PENDING";
  const approve = document.createElement("button");
  approve.textContent = "Approve";
  approve.dataset["testid"] = "approve";
  const reject = document.createElement("button");
  reject.textContent = "Reject";
  reject.dataset["testid"] = "reject";
  const decide = async (decision: "approve" | "reject"): Promise<void> => {
    if (saved === undefined) return;
    approve.disabled = true;
    reject.disabled = true;
    try {
      // The approval_resolved event that follows updates the page.
      await client(saved.baseUrl).resolveApproval(approvalId, decision);
    } catch (error) {
      showError(error);
      approve.disabled = false;
      reject.disabled = false;
    }
  };
  approve.addEventListener("click", () => void decide("approve"));
  reject.addEventListener("click", () => void decide("reject"));
  node.replaceChildren(text, approve, reject, state);
}

function showError(error: unknown): void {
  // "CODE (REASON): message", for example "UNAUTHENTICATED (UNAUTHENTICATED): the bearer token ...".
  errorView.textContent = RunwireError.from(error).message;
}

function clearView(): void {
  transcript.replaceChildren();
  eventList.replaceChildren();
  finalOutput.textContent = "";
  errorView.textContent = "";
  runIdView.textContent = "-";
  setRunState("-");
}

/** Renders the events of `events` as they come, keeping each in sessionStorage. */
async function follow(events: RunEventStream): Promise<void> {
  stream = events;
  try {
    for await (const event of events) {
      if (saved === undefined) return;
      if (saved.runId === "") {
        saved.runId = event.runId;
        runIdView.textContent = event.runId;
      }
      const record = toRecord(event);
      if (statusView.textContent?.startsWith("reconnecting") === true) {
        statusView.textContent = `reconnected at sequence ${record.seq}`;
      }
      saved.records.push(record);
      saved.lastSequence = record.seq;
      save();
      render(record);
    }
    statusView.textContent = "ended";
  } catch (error) {
    statusView.textContent = "disconnected";
    showError(error);
  } finally {
    if (stream === events) stream = undefined;
  }
}

form.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  stream?.cancel();
  clearView();
  const baseUrl = serverInput.value.trim();
  const agentId = agentInput.value.trim();
  const prompt = promptInput.value;
  saved = { baseUrl, agentId, prompt, requestId: newRequestId(), runId: "", lastSequence: 0, records: [] };
  save();
  statusView.textContent = "streaming";
  void follow(client(baseUrl).streamRun({ agentId, prompt, requestId: saved.requestId }));
});

forgetButton.addEventListener("click", () => {
  stream?.cancel();
  saved = undefined;
  sessionStorage.removeItem(STORAGE_KEY);
  clearView();
  statusView.textContent = "idle";
});

/** After a reload: render what was kept, then follow the run after its last sequence. */
function restore(): void {
  saved = load();
  if (saved === undefined) return;
  serverInput.value = saved.baseUrl;
  agentInput.value = saved.agentId;
  runIdView.textContent = saved.runId || "-";
  for (const record of saved.records) render(record);
  const last = saved.records.at(-1);
  const ended = last !== undefined && (last.kind === "runFinished" || last.kind === "runError");
  if (ended || TERMINAL_STATES.has(runStateView.dataset["state"] ?? "")) {
    statusView.textContent = "ended";
    return;
  }
  if (saved.runId === "") {
    // Reloaded before the first event: the same requestId returns the same run, from its start.
    statusView.textContent = "streaming";
    const { agentId, prompt, requestId } = saved;
    void follow(client(saved.baseUrl).streamRun({ agentId, prompt, requestId }));
    return;
  }
  statusView.textContent = `resumed after sequence ${saved.lastSequence}`;
  void follow(client(saved.baseUrl).resume(saved.runId, saved.lastSequence));
}

restore();
