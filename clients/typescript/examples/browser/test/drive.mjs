// Drives the example page in Debian's Chromium (never a downloaded browser)
// with playwright-core, against a live Runwire server; tests/clients/test_browser.py
// runs it. Exits 0 after every check passed, 1 otherwise; prints "STEP ..."
// lines as it goes and one "RESULT <json>" line at the end.
//
// Environment:
//   RUNWIRE_PAGE_URL   the page with its query (?server=...&agent=...&token=...&prompt=...)
//   RUNWIRE_EXPECT     the run's final output
//   RUNWIRE_SCREENSHOT where to save the screenshot (PNG)
//   CHROMIUM           the browser (default /usr/bin/chromium)
//   RUNWIRE_WAIT_MS    how long each condition may take (default 60000)
//   RUNWIRE_PROXY_CONTROL  the control URL of a TCP proxy the page's server URL
//                      goes through (tests/clients/stream_breaker.py): POST /cut
//                      drops its connections; unset: no connection is cut
//
// The scenario: Start; the streamed text and the tool call show, then the
// approval with its buttons; reload: the page renders what it kept and
// resumes after the last sequence (text still there, the approval again, no
// event twice); Approve; the final text and SUCCEEDED. Then the same run in
// binary (?binary=1) without a reload, its connection cut while the approval
// waits (the client resumes by itself: the status says "reconnecting after
// sequence N (UNAVAILABLE)", no error shows); then a wrong token, whose UNAUTHENTICATED
// the page shows. Every call is cross-origin: each answer from the server must
// carry the page's origin in access-control-allow-origin.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

const pageUrl = required("RUNWIRE_PAGE_URL");
const expected = required("RUNWIRE_EXPECT");
const screenshot = required("RUNWIRE_SCREENSHOT");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const timeout = Number(process.env.RUNWIRE_WAIT_MS ?? 60000);
const proxyControl = process.env.RUNWIRE_PROXY_CONTROL ?? "";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function step(text) {
  console.log(`STEP ${text}`);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** The page's state: event log, messages, tool calls, approvals, run state. */
async function snapshot(page) {
  return page.evaluate(() => {
    const all = (selector) => Array.from(document.querySelectorAll(selector));
    const text = (node, testId) => node.querySelector(`[data-testid="${testId}"]`)?.textContent ?? "";
    return {
      sequences: all('[data-testid="event"]').map((n) => Number(n.dataset.seq)),
      kinds: all('[data-testid="event"]').map((n) => n.dataset.kind),
      messages: all('[data-testid="message"]').map((n) => n.textContent),
      toolCalls: all('[data-testid="tool-call"]').map((n) => ({
        name: text(n, "tool-name"),
        args: text(n, "tool-args"),
        result: text(n, "tool-result"),
      })),
      approvals: all('[data-testid="approval"]').map((n) => ({
        id: n.dataset.approvalId,
        state: n.dataset.state,
        buttons: n.querySelectorAll("button").length,
      })),
      runId: document.getElementById("run-id")?.textContent ?? "",
      runState: document.getElementById("run-state")?.dataset.state ?? "",
      status: document.getElementById("status")?.textContent ?? "",
      error: document.getElementById("error")?.textContent ?? "",
      finalOutput: document.getElementById("final-output")?.textContent ?? "",
    };
  });
}

/** Sequences 1..n, each once. */
function assertGapFree(sequences, label) {
  const want = sequences.map((_, i) => i + 1);
  check(JSON.stringify(sequences) === JSON.stringify(want), `${label}: sequences ${sequences} are not 1..n`);
}

function count(list, value) {
  return list.filter((item) => item === value).length;
}

async function waitForState(page, state) {
  await page.waitForFunction(
    (want) => {
      const seen = document.getElementById("run-state")?.dataset.state;
      const error = document.getElementById("error")?.textContent;
      if (error) throw new Error(`the page shows an error: ${error}`);
      return seen === want;
    },
    state,
    { timeout },
  );
}

const userDataDir = await mkdtemp(join(tmpdir(), "runwire-chromium-"));
let context;
const result = { consoleErrors: [], pageErrors: [], cors: [] };
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: FLAGS,
    viewport: { width: 1000, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  const pageOrigin = new URL(pageUrl).origin;
  const serverOrigin = new URL(new URL(pageUrl).searchParams.get("server") ?? "").origin;
  check(pageOrigin !== serverOrigin, `the page (${pageOrigin}) and the server (${serverOrigin}) share an origin`);
  page.on("console", (message) => {
    if (message.type() === "error") result.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  page.on("response", (response) => {
    if (new URL(response.url()).origin !== serverOrigin) return;
    result.cors.push({
      path: new URL(response.url()).pathname,
      status: response.status(),
      allowOrigin: response.headers()["access-control-allow-origin"] ?? null,
    });
  });

  step(`open ${pageOrigin} (server ${serverOrigin}, ${await context.browser()?.version() ?? "chromium"})`);
  await page.goto(pageUrl);
  await page.getByTestId("start").click();
  step("started; waiting for the approval");
  await page.getByTestId("approve").waitFor({ state: "visible" });
  const before = await snapshot(page);
  check(before.error === "", `error before the reload: ${before.error}`);
  assertGapFree(before.sequences, "before the reload");
  check(before.messages.length >= 1 && before.messages[0].length > 0, "no streamed text before the approval");
  check(count(before.kinds, "textMessageContent") >= 2, "the text did not stream in pieces");
  check(before.toolCalls.length === 1 && before.toolCalls[0].name === "calculator", "no calculator tool call");
  check(before.approvals.length === 1 && before.approvals[0].buttons === 2, "no pending approval with two buttons");
  result.beforeReload = before;
  step(`approval ${before.approvals[0].id} pending after sequence ${before.sequences.at(-1)}; reloading`);

  await page.reload();
  await page.waitForFunction(
    () => /^resumed after sequence \d+$/.test(document.getElementById("status")?.textContent ?? ""),
    undefined,
    { timeout },
  );
  await page.getByTestId("approve").waitFor({ state: "visible" });
  const after = await snapshot(page);
  check(after.status === `resumed after sequence ${before.sequences.at(-1)}`, `status after the reload: ${after.status}`);
  check(after.runId === before.runId, `run id after the reload: ${after.runId}`);
  check(JSON.stringify(after.messages) === JSON.stringify(before.messages), "the text changed across the reload");
  check(after.approvals.length === 1 && after.approvals[0].id === before.approvals[0].id, "the approval is not shown again");
  assertGapFree(after.sequences, "after the reload");
  result.afterReload = after;
  step(`resumed after sequence ${before.sequences.at(-1)}; approving`);

  await page.getByTestId("approve").click();
  await waitForState(page, "SUCCEEDED");
  await page.waitForFunction((want) => document.getElementById("final-output")?.textContent === want, expected, {
    timeout,
  });
  const done = await snapshot(page);
  assertGapFree(done.sequences, "at the end");
  check(done.kinds.at(-1) === "runFinished", `last event: ${done.kinds.at(-1)}`);
  for (const kind of ["runStarted", "approvalRequested", "approvalResolved", "toolCallResult", "runFinished"]) {
    check(count(done.kinds, kind) === 1, `${kind} appears ${count(done.kinds, kind)} times`);
  }
  check(done.approvals[0].state === "APPROVED" && done.approvals[0].buttons === 0, "the approval is not APPROVED");
  check(done.toolCalls[0].result === "→ 42", `tool result: ${done.toolCalls[0].result}`);
  check(done.messages.at(-1) === expected, `last message: ${done.messages.at(-1)}`);
  check(done.status === "ended", `status at the end: ${done.status}`);
  result.done = done;
  await page.screenshot({ path: screenshot, fullPage: true });
  step(`SUCCEEDED with ${done.sequences.length} events; screenshot ${screenshot}`);

  // The same run with the binary format, no reload; a finished run restores without a call.
  const binaryUrl = new URL(pageUrl);
  binaryUrl.searchParams.set("binary", "1");
  await page.goto(binaryUrl.toString());
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "ended", undefined, { timeout });
  await page.getByTestId("forget").click();
  await page.getByTestId("start").click();
  await page.getByTestId("approve").waitFor({ state: "visible" });
  if (proxyControl !== "") {
    // The network fails under the waiting stream: fetch's TypeError must come out
    // as UNAVAILABLE, which the client resumes from after its last sequence.
    const waiting = await snapshot(page);
    const cut = await fetch(new URL("/cut", proxyControl), { method: "POST" });
    check(cut.ok, `POST /cut: ${cut.status}`);
    step(`${await cut.text()} while the approval waits after sequence ${waiting.sequences.at(-1)}`);
    const want = `reconnecting after sequence ${waiting.sequences.at(-1)} (UNAVAILABLE)`;
    await page.waitForFunction(
      (text) => {
        const error = document.getElementById("error")?.textContent;
        if (error) throw new Error(`the page shows an error: ${error}`);
        return document.getElementById("status")?.textContent === text;
      },
      want,
      { timeout },
    );
    result.reconnect = want;
    step(want);
  }
  await page.getByTestId("approve").click();
  await waitForState(page, "SUCCEEDED");
  const binary = await snapshot(page);
  assertGapFree(binary.sequences, "binary");
  check(binary.runId !== done.runId, "the binary run reused the first run");
  check(binary.finalOutput === expected, `binary final output: ${binary.finalOutput}`);
  result.binary = binary;
  step(`binary run ${binary.runId} SUCCEEDED with ${binary.sequences.length} events`);

  // A wrong token: the error and its reason are readable cross-origin.
  const badUrl = new URL(pageUrl);
  badUrl.searchParams.set("token", "not-a-key");
  await page.goto(badUrl.toString());
  await page.getByTestId("forget").click();
  await page.getByTestId("start").click();
  await page.waitForFunction(() => (document.getElementById("error")?.textContent ?? "") !== "", undefined, {
    timeout,
  });
  result.badToken = (await snapshot(page)).error;
  check(result.badToken.startsWith("UNAUTHENTICATED"), `with a wrong token: ${result.badToken}`);
  step(`a wrong token: ${result.badToken}`);

  check(result.cors.length > 0, "no call reached the server");
  const wrong = result.cors.filter((c) => c.allowOrigin !== pageOrigin);
  check(wrong.length === 0, `answers without the page's origin allowed: ${JSON.stringify(wrong)}`);
  check(result.pageErrors.length === 0, `page errors: ${result.pageErrors}`);
  result.ok = true;
} catch (error) {
  result.ok = false;
  result.failure = String(error?.stack ?? error);
  process.exitCode = 1;
} finally {
  await context?.close();
  await rm(userDataDir, { recursive: true, force: true });
  console.log(`RESULT ${JSON.stringify(result)}`);
}
