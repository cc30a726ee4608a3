package dev.handoff.app;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Set;

/** Everything the app needs to run, as validated by {@link AppCommand}. */
record AppConfig(
    Path socket,
    Set<PosixFilePermission> socketMode,
    int maxLinks,
    int ioThreads,
    int highWaterMark,
    Duration drainTimeout,
    int directPort,
    Set<Integer> allowedUids,
    int maxConnections,
    InetSocketAddress metrics,
    /** Links from plain descriptor senders are taken (docs/PROTOCOL.md, "Plain mode"). */
    boolean acceptPlain) {}
