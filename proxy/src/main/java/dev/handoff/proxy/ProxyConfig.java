package dev.handoff.proxy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/** Everything the proxy needs to run, as validated by {@link ProxyCommand}. */
record ProxyConfig(
    InetAddress bind,
    int port,
    int backlog,
    List<Path> sockets,
    int queueSize,
    Duration queueWait,
    Duration retryMin,
    Duration retryMax,
    int window,
    Duration ackTimeout,
    Set<Integer> appUids,
    Duration holdCopy,
    Duration shutdownGrace,
    InetSocketAddress metrics,
    /** {@code --protocol plain}: a {@link PlainSender} instead of the acknowledged links. */
    boolean plainProtocol) {}
