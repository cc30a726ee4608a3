/**
 * Receive TCP connections handed off by a {@code handoff proxy}, in your own Netty pipeline or as
 * JDK socket channels.
 *
 * <h2>How it works</h2>
 *
 * <p>A proxy process owns the public port. For each connection it accepts, it sends the socket's
 * file descriptor over a unix socket ({@code SCM_RIGHTS}) to a process that uses this library, and
 * steps out of the data path: your server reads from and writes to the client directly, as if it
 * had accepted the connection itself. The proxy keeps its copy until your server answers that it
 * has the connection, and sends it elsewhere when it is certain your server did not take it.
 *
 * <p>With Netty, {@link dev.handoff.server.HandoffServerChannel} is a transport: Netty's own
 * {@code ServerBootstrap} binds it to a {@link dev.handoff.server.HandoffAddress} (a unix socket
 * path) as it binds an epoll server socket channel to a port, with the library's settings as
 * {@link dev.handoff.server.HandoffChannelOption}s; gRPC's {@code NettyServerBuilder} takes it as
 * its channel type (docs/LIBRARY.md has both recipes). {@link
 * dev.handoff.server.HandoffServerBootstrap} is a shorthand for it: give it epoll event loops and a
 * child handler, then {@code bind} a unix socket path instead of a port. Each handed-off connection becomes an epoll socket channel with
 * your child handler in its pipeline; {@link dev.handoff.server.Handoff#of} gives what the proxy
 * knew of it (its connection id, client and local address, accept time), and the channel's own
 * {@code remoteAddress()} is the real client (behind a load balancer that the proxy trusts with
 * {@code --proxy-protocol-from}, the client the balancer's PROXY protocol header named). Without
 * Netty, {@link
 * dev.handoff.server.HandoffServerBootstrap#bindAcceptor} gives each connection as a blocking
 * {@link java.nio.channels.SocketChannel} through {@link dev.handoff.server.HandoffAcceptor#accept()}.
 *
 * <p>The library does the rest: it creates the socket file with a mode you choose (0600 by
 * default), replaces a stale one and never a live one or anything that is not a socket; accepts
 * links only from the uids you allow ({@code SO_PEERCRED}); refuses every malformed message and
 * every descriptor that is not a connected TCP socket, closing each descriptor exactly once;
 * answers RETRY beyond its connection cap so that the proxy keeps the connection; answers CLOSING
 * when it stops taking handoffs so that proxies go elsewhere at once; and publishes its meters to a
 * Micrometer registry if you give it one.
 *
 * <h2>Lifecycle</h2>
 *
 * <ol>
 *   <li>{@code bind(path)}: the server takes handoffs. It throws
 *       {@link dev.handoff.server.SocketInUseException} if another process accepts on the path.</li>
 *   <li>{@link dev.handoff.server.HandoffServer#stopTakingHandoffs()}: the socket file goes,
 *       proxies send new connections elsewhere; connections already here go on.</li>
 *   <li>{@link dev.handoff.server.HandoffServer#awaitDrained(java.time.Duration)}: wait for them to
 *       end, up to a deadline.</li>
 *   <li>{@link dev.handoff.server.HandoffServer#close()}: close what is left.</li>
 * </ol>
 *
 * <h2>Upgrading without dropping a connection</h2>
 *
 * <p>Start the new version of your server next to the running one with
 * {@link dev.handoff.server.HandoffServerBootstrap#takeOver(java.nio.file.Path)} on the same path.
 * The running one stops taking handoffs and frees the path, the new one binds it (proxies re-link
 * by themselves), and every connection whose state can travel moves to the new process: its socket
 * (with every byte the client sent that the old process did not read), the bytes the old pipeline
 * had written and the socket had not taken (sent first by the new process), and the state of each
 * handler that implements {@link dev.handoff.server.MigratableHandler}. The running server then
 * completes {@link dev.handoff.server.HandoffServer#handedOver()}: stop it as above. The move is
 * one transaction: the new process holds every connection without serving any until the running
 * one commits, once the new one holds them all ({@code takeOver} returns then). The running one
 * serves every connection while copies of their sockets travel, and pauses them only for a short
 * switch, all at once, just before the commit (docs/UPGRADES.md). If the new process
 * dies, refuses a connection or does not answer before that, the running one serves every
 * connection again and takes handoffs again, and {@code takeOver} throws.
 *
 * <h2>Pitfalls</h2>
 *
 * <ol>
 *   <li><b>State that cannot travel stays.</b> A connection moves only if its pipeline can carry
 *       its state: a handler implements {@code MigratableHandler}, or you declared the pipelines
 *       {@link dev.handoff.server.HandoffServerBootstrap#stateless stateless}. Anything else a
 *       handler holds (the unread part of a decoder's buffer, a half-built response) is not
 *       exported: such a pipeline must answer {@code canMove} false while it holds some, or be
 *       left to finish on the old process. Declaring a stateful pipeline stateless loses that
 *       state.</li>
 *   <li><b>The successor must build the same pipeline.</b> Handler state is matched by handler
 *       name.</li>
 *   <li><b>Epoll event loops and Netty 4.2 only.</b> The channels are epoll socket channels
 *       built from the received descriptor; a group of another transport cannot register them,
 *       and binding refuses one. The links are read on the server channel's event loop through
 *       Netty 4.2's {@code IoHandle}; with Netty 4.1 binding fails with a message saying so.</li>
 *   <li><b>JDK internals.</b> Setting a received socket non-blocking needs
 *       {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED}, and making a {@code SocketChannel}
 *       from one also {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED}. Binding fails at once
 *       without them.</li>
 *   <li><b>The socket file is a door.</b> Whoever can connect to it can hand your process
 *       descriptors: keep its mode and directory tight, and allow only the proxy's uid.</li>
 *   <li><b>Closing a channel ends the connection.</b> The library owns each descriptor it
 *       receives until the channel (or, for the acceptor, your {@code SocketChannel}) owns it;
 *       from then on closing the channel closes it, once. Never close a channel's descriptor by
 *       number behind its back: the number may already belong to another file.</li>
 * </ol>
 */
package dev.handoff.server;
