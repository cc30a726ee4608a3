package dev.handoff.proxy;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;

/** Everything the proxy needs to run, as validated by {@link ProxyCommand}. */
record ProxyConfig(
    InetAddress bind,
    int port,
    int backlog,
    Path socket,
    int queueSize,
    Duration queueWait,
    Duration retryMin,
    Duration retryMax,
    Duration holdCopy,
    Duration shutdownGrace) {}
