/**
 * The TLS example (scripts/tls-example): each app completes the handshake itself with Netty's
 * {@code SslHandler}, behind a proxy that routed the connection by its server name or ALPN.
 * Calls only the public API of {@code dev.handoff.server}, {@code dev.handoff.cli} and Netty.
 */
package dev.handoff.examples.tls;
