package dev.handoff.spring.autoconfigure;

import dev.handoff.server.HandoffServerChannel;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ServerSocketChannel;
import java.time.Duration;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;

/**
 * Reactor Netty's loop resources with the handoff transport: where Reactor Netty asks for a
 * server socket channel, it gets a {@link HandoffServerChannel}, which binds a {@link
 * dev.handoff.server.HandoffAddress} and whose children are the connections proxies hand over.
 * Everything else (the epoll event loops, client channels) is Reactor Netty's own.
 */
final class HandoffLoopResources implements LoopResources {
  private final LoopResources loops;

  HandoffLoopResources(LoopResources loops) {
    this.loops = loops;
  }

  @Override
  @SuppressWarnings("unchecked")
  public <C extends Channel> C onChannel(Class<C> channelType, EventLoopGroup group) {
    if (channelType == ServerSocketChannel.class) {
      return (C) new HandoffServerChannel();
    }
    return loops.onChannel(channelType, group);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <C extends Channel> Class<? extends C> onChannelClass(Class<C> channelType,
      EventLoopGroup group) {
    if (channelType == ServerSocketChannel.class) {
      return (Class<? extends C>) HandoffServerChannel.class;
    }
    return loops.onChannelClass(channelType, group);
  }

  @Override
  public EventLoopGroup onServer(boolean useNative) {
    return loops.onServer(true);
  }

  @Override
  public EventLoopGroup onServerSelect(boolean useNative) {
    return loops.onServerSelect(true);
  }

  @Override
  public EventLoopGroup onClient(boolean useNative) {
    return loops.onClient(useNative);
  }

  @Override
  public boolean daemon() {
    return loops.daemon();
  }

  @Override
  public void dispose() {
    loops.dispose();
  }

  @Override
  public boolean isDisposed() {
    return loops.isDisposed();
  }

  @Override
  public Mono<Void> disposeLater() {
    return loops.disposeLater();
  }

  @Override
  public Mono<Void> disposeLater(Duration quietPeriod, Duration timeout) {
    return loops.disposeLater(quietPeriod, timeout);
  }
}
