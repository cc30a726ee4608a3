/**
 * Jetty 12 behind a handoff proxy: {@link dev.handoff.jetty.HandoffConnector} is a connector fed
 * with the connections the proxy hands over on a unix socket (through the library's {@link
 * dev.handoff.server.HandoffAcceptor}), served by Jetty's own selectors and HTTP handling; {@link
 * dev.handoff.jetty.HandoffCustomizer} gives each request its connection's {@link
 * dev.handoff.server.Handoff} facts. In a take-over, HTTP/1.1 connections move to the new process
 * at a request boundary; the others finish on the old one (docs/LIBRARY.md, "Jetty").
 */
package dev.handoff.jetty;
