/**
 * What the {@code proxy} and {@code app} commands share: option converters, logging set-up,
 * signals (SIGTERM, SIGHUP, SIGUSR1), exit codes, systemd notification, the Prometheus endpoint,
 * and the generator of the commands' completion scripts, man pages and docs/CLI.md. Calls only
 * {@code dev.handoff.common.Errors}, picocli, logback and Micrometer; the commands call it.
 */
package dev.handoff.cli;
