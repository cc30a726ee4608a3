package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
import dev.handoff.proxy.accept.ProxyStats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Which link the dispatcher gets, and what a shutdown does to the choice. */
class LinkSetTest {
  private final Harness h = new Harness();

  @Test
  void aHealthyLinkIsPreferredToOneOnProbation() throws Exception {
    AppLink timedOut = h.link("stopped", 8);
    AppLink healthy = h.link("healthy", 8);
    LinkSet set = new LinkSet(List.of(timedOut, healthy));
    timedOut.maintain(h.clock.get());
    timedOut.send(h.accept());
    h.advance(Harness.ACK_TIMEOUT.plusMillis(1));
    timedOut.maintain(h.clock.get());
    timedOut.ended("Socket closed");
    h.advance(Harness.RETRY_MAX);
    timedOut.maintain(h.clock.get());
    healthy.maintain(h.clock.get());
    assertEquals(AppLink.State.UP, timedOut.state());
    for (int i = 0; i < 8; i++) {
      assertSame(healthy, set.pick(() -> h.clock.get() + 1), "pick " + i);
      healthy.send(h.accept());
    }
    assertSame(timedOut, set.pickNow(), "the link on probation only when no healthy one has room");
  }

  /**
   * Sticky: a client address always gets the same app while that app is up; when it goes down
   * only its clients move, and they come back when it is up again.
   */
  @Test
  void stickySpreadingKeepsAClientOnItsAppAndMovesOnlyTheClientsOfALostOne() throws Exception {
    List<AppLink> links = List.of(h.link("a", 1000), h.link("b", 1000), h.link("c", 1000));
    LinkSet set = new LinkSet(links, true);
    for (AppLink link : links) {
      link.maintain(h.clock.get());
    }
    java.util.Map<java.net.InetAddress, AppLink> first = new java.util.HashMap<>();
    java.util.Map<AppLink, Integer> load = new java.util.HashMap<>();
    for (int i = 0; i < 300; i++) {
      java.net.InetAddress client = java.net.InetAddress.getByAddress(
          new byte[] {10, 0, (byte) (i >> 8), (byte) i});
      AppLink picked = set.pickNow(client);
      first.put(client, picked);
      load.merge(picked, 1, Integer::sum);
      for (int again = 0; again < 3; again++) {
        assertSame(picked, set.pickNow(client), "the same app for the same client");
      }
    }
    for (AppLink link : links) {
      assertTrue(load.getOrDefault(link, 0) > 50, "spread over every app: " + load);
    }
    AppLink lost = links.get(1);
    lost.ended("end of stream");
    assertEquals(AppLink.State.DOWN, lost.state());
    first.forEach((client, was) -> {
      AppLink now = set.pickNow(client);
      if (was == lost) {
        assertTrue(now != null && now != lost, "a lost app's client goes elsewhere");
      } else {
        assertSame(was, now, "the other clients stay where they were");
      }
    });
    lost.maintain(h.clock.get());
    assertEquals(AppLink.State.UP, lost.state());
    first.forEach((client, was) -> assertSame(was, set.pickNow(client), "back home"));
    assertNotNull(set.pickNow(null), "no address: the usual choice");
  }

  @Test
  void shutdownDuringRelinkMakesPickReturnAtOnce() throws Exception {
    AppLink down = h.link("gone", 8);
    LinkSet set = new LinkSet(List.of(down));
    h.connectFailure = new java.io.IOException("Connection refused");
    down.maintain(h.clock.get());
    set.stopLinking();
    long start = System.nanoTime();
    assertNull(set.pick(() -> System.nanoTime() + TimeUnit.SECONDS.toNanos(30)));
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5),
        "no link can come up during a shutdown: no waiting for one");
    h.connectFailure = null;
    h.advance(Duration.ofMinutes(1));
    down.maintain(h.clock.get());
    assertEquals(AppLink.State.DOWN, down.state());
  }

  @Test
  void theDispatcherSendsARetriedConnectionAgainOnlyAfterTheLinksPause() throws Exception {
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    try {
      ProxyStats stats = new ProxyStats(new SimpleMeterRegistry());
      List<AppLink> links = new java.util.ArrayList<>();
      LinkSet set = new LinkSet(links);
      Dispatcher d = new Dispatcher(new ArrayBlockingQueue<>(4), set, stats,
          Duration.ofSeconds(10), Duration.ZERO, timer);
      Harness clockOnly = new Harness();
      AppLink link = new AppLink(java.nio.file.Path.of("/x.sock"), d, stats, Harness.config(8),
          socket -> new FakeTransport(), clockOnly.clock::get, r -> { });
      links.add(link);
      link.maintain(clockOnly.clock.get());
      AcceptedConnection c = clockOnly.accept();
      assertTrue(d.trySendNow(c) || link.send(c));
      link.answered(new Acknowledgement(c.id(), Status.RETRY));
      assertEquals(1, stats.retried.sum());
      assertEquals(false, link.canTake(), "the link pauses after RETRY");
      assertEquals(false, d.trySendNow(clockOnly.accept()), "the retried one waits first in line");
    } finally {
      timer.shutdownNow();
    }
  }
}
