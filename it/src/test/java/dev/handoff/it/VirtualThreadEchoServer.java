package dev.handoff.it;

import dev.handoff.server.HandedOffChannel;
import dev.handoff.server.HandoffAcceptor;
import dev.handoff.server.HandoffServerBootstrap;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A thread-per-connection echo server on the JDK entry point, with a virtual thread per
 * connection: {@code java ... VirtualThreadEchoServer SOCKET} on Java 21 or later. Built for
 * release 17, so the virtual-thread executor is looked up by name.
 */
public final class VirtualThreadEchoServer {
  private VirtualThreadEchoServer() {}

  public static void main(String[] args) throws Exception {
    ExecutorService threads = (ExecutorService) Executors.class
        .getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
    System.out.println("serving with virtual threads on Java " + Runtime.version().feature());
    try (HandoffAcceptor acceptor =
        new HandoffServerBootstrap().bindAcceptor(Path.of(args[0]), 1024)) {
      while (true) {
        HandedOffChannel next = acceptor.accept();
        threads.submit(() -> LibraryIT.echo(next.channel()));
      }
    }
  }
}
