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
    boolean acceptPlain,
    /** When a successor takes over from this app: how long each wait on it may last. */
    Duration takeOverTimeout,
    /** With --take-over: the command whose exit status 0 says this app is ready; or null. */
    String readyCommand) {}
