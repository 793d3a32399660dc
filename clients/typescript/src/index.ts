// Runwire's TypeScript client for Node (@runwire/client): RunwireClient over
// gRPC (HTTP/2), plus everything the browser entry point (@runwire/client/web)
// exports too: the client core over any transport (RunwireClientBase), its
// typed errors, and every generated message, enum and service descriptor of the
// contract (runwire.v1) plus google.rpc's Status and error details.
export * from "./exports.js";
export * from "./client.js";
