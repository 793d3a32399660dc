// Unit tests without a server: the reason constants, isResumable, request ids.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";

import {
  ErrorInfoSchema,
  ErrorReason,
  ErrorReasonSchema,
  ErrorReasons,
  errorReasonValue,
  isResumable,
  newRequestId,
  RunwireError,
} from "@runwire/client";

test("ErrorReasons has one entry per ErrorReason value, name = value", () => {
  const names = ErrorReasonSchema.values.map((v) => v.name).filter((name) => name !== "ERROR_REASON_UNSPECIFIED");
  assert.ok(names.length >= 40, `only ${names.length} ErrorReason values`);
  assert.deepEqual(Object.keys(ErrorReasons).sort(), [...names].sort());
  for (const [name, value] of Object.entries(ErrorReasons)) {
    assert.equal(value, name);
    assert.equal(ErrorReason[value as keyof typeof ErrorReason], ErrorReasonSchema.values.find((v) => v.name === name)?.number);
  }
  assert.equal(ErrorReasons.AGENT_NOT_FOUND, "AGENT_NOT_FOUND");
  assert.equal(ErrorReason[ErrorReason.DRAINING], ErrorReasons.DRAINING);
  assert.ok(Object.isFrozen(ErrorReasons));
});

test("reasonValue maps the wire reason to the enum", () => {
  assert.equal(error(Code.NotFound, ErrorReasons.AGENT_NOT_FOUND).reasonValue, ErrorReason.AGENT_NOT_FOUND);
  assert.equal(error(Code.Unavailable).reasonValue, ErrorReason.ERROR_REASON_UNSPECIFIED);
  assert.equal(error(Code.NotFound, "A_REASON_OF_A_NEWER_SERVER").reasonValue, ErrorReason.ERROR_REASON_UNSPECIFIED);
  assert.equal(errorReasonValue("AGENT_NOT_FOUND", "example.com"), ErrorReason.ERROR_REASON_UNSPECIFIED);
  assert.equal(errorReasonValue("RUN_TIMEOUT"), ErrorReason.RUN_TIMEOUT);
});

function error(code: Code, reason?: string): RunwireError {
  const details = reason
    ? [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: "runwire.dev" }) }]
    : [];
  return RunwireError.from(new ConnectError("x", code, undefined, details));
}

test("isResumable: UNAVAILABLE with DRAINING or without ErrorInfo, nothing else", () => {
  assert.equal(isResumable(error(Code.Unavailable, ErrorReasons.DRAINING)), true);
  assert.equal(isResumable(error(Code.Unavailable)), true);
  assert.equal(isResumable(error(Code.Unavailable, ErrorReasons.RUNTIME_UNAVAILABLE)), false);
  assert.equal(isResumable(error(Code.Internal)), false);
  assert.equal(isResumable(error(Code.Canceled)), false);
  assert.equal(isResumable(new Error("x")), false);
  const drained = error(Code.Unavailable, ErrorReasons.DRAINING);
  assert.equal(drained.reason, "DRAINING");
  assert.equal(drained.codeName, "UNAVAILABLE");
});

test("newRequestId returns distinct version-4 UUIDs", () => {
  const ids = new Set(Array.from({ length: 100 }, newRequestId));
  assert.equal(ids.size, 100);
  for (const id of ids) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});
