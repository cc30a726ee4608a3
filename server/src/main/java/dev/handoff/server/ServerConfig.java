package dev.handoff.server;

import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Callable;

/** What a {@link HandoffServer} runs with, as the bootstrap validated it. */
record ServerConfig(
    Path socket,
    Set<PosixFilePermission> socketMode,
    int maxLinks,
    Set<Integer> allowedUids,
    int maxConnections,
    boolean stateless,
    boolean acceptPlain,
    /** A Micrometer MeterRegistry, or null: kept as an Object so that Micrometer is optional. */
    Object meterRegistry,
    /** How long each wait on a successor taking over from this app may last (Handover). */
    Duration handOverTimeout,
    /**
     * When taking over, what must return before the previous app is told this app is ready; null:
     * ready once the path is bound (HandoffServerBootstrap#readiness).
     */
    Callable<?> readiness) {}
