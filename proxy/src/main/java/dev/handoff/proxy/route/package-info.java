/**
 * Routing by first bytes: the rules and route table, the ClientHello and HTTP head parsers read
 * with MSG_PEEK, and the peek stage thread that gives each connection to a
 * {@code RouteDestination}. Calls {@code accept} (the connection) and {@code common}; never a link.
 */
package dev.handoff.proxy.route;
