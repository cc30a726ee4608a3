/**
 * Upgrading without refusing a connection: the control socket of a running proxy, the client of
 * a proxy taking over, the LISTENER messages that pass the listening sockets, and the reload a
 * SIGHUP starts. Sees the listeners only as {@link dev.handoff.proxy.upgrade.Listener}; calls
 * {@code accept} (socket activation's environment) and {@code common}.
 */
package dev.handoff.proxy.upgrade;
