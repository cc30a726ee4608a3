/**
 * The proxy process: {@link dev.handoff.proxy.ProxyCommand} maps the command line (or a
 * configuration file) to one {@code ProxyConfig} per listener and runs them; each
 * {@code ProxyServer} wires one listener's threads: accept, route, link. May call every
 * sub-package; none of them calls this one.
 */
package dev.handoff.proxy;
