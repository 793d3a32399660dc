// What both entry points export (@runwire/client for Node, index.ts, and
// @runwire/client/web for browsers, web.ts): the transport-independent client
// core, its typed errors, and every generated message, enum and service
// descriptor of the contract (runwire.v1) plus google.rpc's Status and error
// details. Nothing here imports node:*.
export * from "./core.js";
export * from "./errors.js";
export * from "./gen/runwire/v1/agent_pb.js";
export * from "./gen/runwire/v1/approval_pb.js";
export * from "./gen/runwire/v1/event_pb.js";
export * from "./gen/runwire/v1/run_pb.js";
export * from "./gen/runwire/v1/run_service_pb.js";
export * from "./gen/runwire/v1/thread_pb.js";
export * from "./gen/runwire/v1/tool_pb.js";
export * from "./gen/runwire/v1/watch_pb.js";
export * from "./gen/google/rpc/status_pb.js";
export * from "./gen/google/rpc/error_details_pb.js";
export { Code } from "@connectrpc/connect";
