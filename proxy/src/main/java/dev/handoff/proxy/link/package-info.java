/**
 * Handing off: per route a queue, a dispatcher thread and a set of links, one per app socket,
 * each with its reader thread, answers, window and backoff; or, with {@code --protocol plain},
 * the plain sender. Calls {@code accept} (the connection, its wait limit and ledger),
 * {@code route} (a route's spec) and {@code common}'s handoff channel.
 */
package dev.handoff.proxy.link;
