/**
 * The {@code app} command: an echo service that receives connections from proxies through the
 * library's public API ({@code dev.handoff.server}) and, with {@code --direct-port}, accepts TCP
 * itself with the same pipeline. Calls {@code dev.handoff.server}, {@code dev.handoff.cli} (the
 * options, signals and exit codes both commands share), Netty and Micrometer; nothing calls it.
 */
package dev.handoff.app;
