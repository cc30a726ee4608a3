package dev.handoff.server;

import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Map;
import java.util.Set;

/** What a {@link HandoffServer} runs with, as the bootstrap validated it. */
record ServerConfig(
    Path socket,
    Set<PosixFilePermission> socketMode,
    int maxLinks,
    Set<Integer> allowedUids,
    int maxConnections,
    EventLoopGroup group,
    boolean ownsGroup,
    ChannelHandler childHandler,
    Map<ChannelOption<?>, Object> childOptions,
    boolean stateless,
    boolean acceptPlain,
    MeterRegistry registry) {}
