package dev.handoff.server;

import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

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
    Object meterRegistry) {}
