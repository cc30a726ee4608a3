/**
 * Accepting: the listening socket (bound, inherited from systemd, or received at a take-over),
 * the acceptor thread, the PROXY-protocol header reader and parser, reading without consuming
 * ({@code MsgPeek}, the peek stage's too), the selector loop that watches
 * connections for their first bytes until a deadline ({@code DeadlineSelector}, the peek stage's
 * too), and the accepted connection with the ledger of what became of it ({@code ProxyStats}).
 * Calls only {@code common}; it hands each connection on through a function it is given.
 */
package dev.handoff.proxy.accept;
