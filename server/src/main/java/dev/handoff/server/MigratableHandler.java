package dev.handoff.server;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;

/**
 * A handler whose per-connection state moves with its connection when a successor app takes over
 * ({@link HandoffServerBootstrap#takeOver}).
 *
 * <p>What moves with a connection: its socket (the kernel keeps every byte the client sent and the
 * old app did not read), the bytes the old app's pipeline had written and the socket had not yet
 * taken (they go out first on the new app), and the state each handler implementing this
 * interface exports. What does not: anything else a handler holds, such as the unread part of a
 * decoder's buffer. So a connection is moved only if its pipeline can carry its state: at least
 * one handler implements this interface, or the bootstrap declared the pipelines stateless
 * ({@link HandoffServerBootstrap#stateless}). Other connections stay with the old app, which
 * serves them until they end or its drain deadline passes.
 *
 * <p>Handlers are matched by their name in the pipeline, so the successor must build the same
 * pipeline (same names) as the old app; a state whose name is missing on the new app is logged
 * and dropped.
 */
public interface MigratableHandler extends ChannelHandler {
  /**
   * Whether the connection may move now, asked on the old app on the channel's event loop before
   * anything is exported. A handler in the middle of something that cannot travel (a request half
   * read into a decoder, say) answers false, and the connection stays with the old app, which
   * serves it until it ends or the drain deadline passes. Default: true.
   */
  default boolean canMove(ChannelHandlerContext ctx) {
    return true;
  }

  /**
   * Called on the old app, on the channel's event loop, after reading has stopped and before the
   * connection leaves this process. The handler must not write after this.
   *
   * @return the state to carry (at most 1 MiB in all per connection); an empty array for none
   */
  byte[] exportState(ChannelHandlerContext ctx);

  /**
   * Called on the new app, on the channel's event loop, once the pipeline is built and before
   * the moved bytes are written and reading starts.
   */
  void importState(ChannelHandlerContext ctx, byte[] state);
}
