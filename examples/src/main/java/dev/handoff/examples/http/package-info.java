/**
 * The HTTP/1.1 example (scripts/http-example): Netty's codec-http on handed-off connections, with
 * {@link dev.handoff.examples.http.HttpMoveGuard} letting a keep-alive connection move in a
 * take-over at a request boundary. Calls only the public API of {@code dev.handoff.server},
 * {@code dev.handoff.cli} and Netty.
 */
package dev.handoff.examples.http;
