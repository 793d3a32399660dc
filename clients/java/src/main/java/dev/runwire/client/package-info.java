/**
 * A thin Java client for Runwire: {@link dev.runwire.client.RunwireClient} (blocking and async
 * shortcuts plus the generated stubs of {@code dev.runwire.v1}), {@link
 * dev.runwire.client.RunEventStream} (a run's events as an Iterator, resumable after any
 * sequence), {@link dev.runwire.client.RunwireException} (gRPC code and {@code ErrorInfo} reason),
 * {@link dev.runwire.client.ConnectOptions} (TLS and a bearer token, by default from the
 * environment) and {@link dev.runwire.client.Json} (JSON text to and from {@code Struct}).
 */
package dev.runwire.client;
