package dev.handoff.proxy.link;

import dev.handoff.proxy.accept.AcceptedConnection;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement;
import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.proxy.link.Harness.End;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random interleavings of accept, send (some failing, some with the link closed mid-send), the
 * app's answers (ADOPTED, RETRY, REJECTED, CLOSING), a close on the proxy's side during a send, the app closing its link, ack timeouts,
 * re-links and a shutdown, on two links, against a model of two apps. After every step: a
 * connection is in exactly one place, and no two app copies of one connection can be live. At
 * the end every accepted connection ended exactly once and its descriptor was closed once.
 *
 * <p>An app copy is live from the write of its handoff until the app answers RETRY or REJECTED
 * for it, or closes the link without answering it (the protocol's rule: it keeps nothing it did
 * not answer). ADOPTED copies stay live; so do the unanswered copies on a link the proxy closed,
 * since the app may have read them.
 */
class LinkInterleavingTest {
  private static final int LINKS = 2;

  @Provide
  Arbitrary<List<int[]>> steps() {
    return Arbitraries.integers().between(0, 11)
        .flatMap(kind -> Arbitraries.integers().between(0, 1000)
            .map(arg -> new int[] {kind, arg}))
        .list().ofMinSize(1).ofMaxSize(120);
  }

  @Property(tries = 400)
  void everyConnectionEndsOnceAndIsNeverLiveInTwoApps(@ForAll("steps") List<int[]> steps) {
    new Run().play(steps);
  }

  private static final class Run {
    final Harness h = new Harness();
    final List<AppLink> links = new ArrayList<>();
    final Deque<AcceptedConnection> waiting = new ArrayDeque<>();
    final Map<Long, AcceptedConnection> all = new LinkedHashMap<>();
    /** Per transport, the ids the app holds unanswered, in the order written. */
    final Map<FakeTransport, List<Long>> unanswered = new HashMap<>();
    /** Per transport, how many of its written ids the model has seen. */
    final Map<FakeTransport, Integer> seen = new HashMap<>();
    final Map<Long, Integer> liveCopies = new HashMap<>();
    boolean shuttingDown;

    Run() {
      for (int i = 0; i < LINKS; i++) {
        links.add(h.link("app" + i, 3));
      }
    }

    void play(List<int[]> steps) {
      StringBuilder trace = new StringBuilder();
      for (int[] step : steps) {
        trace.append(step[0]).append(':').append(step[1]).append(' ');
        try {
          step(step[0], step[1]);
          check(trace);
        } catch (IOException e) {
          throw new AssertionError(e);
        }
      }
      shutdown();
      check(trace);
      for (AcceptedConnection c : all.values()) {
        assertEquals(1, h.endsOf(c.id()).size(), "c" + c.id() + " ends " + h.endsOf(c.id())
            + " after " + trace);
        assertEquals(1, h.closes.get(c.id()), "c" + c.id() + " closed once; " + trace);
      }
    }

    private AppLink link(int arg) {
      return links.get(arg % LINKS);
    }

    private FakeTransport transportOf(AppLink link) {
      int i = links.indexOf(link);
      // the transports of link i are those created while it connected; track the newest open one
      for (int t = h.transports.size() - 1; t >= 0; t--) {
        FakeTransport ft = h.transports.get(t);
        if (owner.get(ft) == i && !ft.closed) {
          return ft;
        }
      }
      return null;
    }

    final Map<FakeTransport, Integer> owner = new HashMap<>();

    private void step(int kind, int arg) throws IOException {
      AppLink link = link(arg);
      switch (kind) {
        case 0, 1 -> { // accept
          if (!shuttingDown) {
            AcceptedConnection c = h.accept();
            all.put(c.id(), c);
            liveCopies.put(c.id(), 0);
            waiting.addLast(c);
          }
        }
        case 2, 3 -> send(link, arg % 5 == 0, arg % 7 == 0, arg % 2 == 0);
        case 4 -> answer(link, Status.ADOPTED, arg);
        case 5 -> answer(link, arg % 2 == 0 ? Status.RETRY : Status.REJECTED, arg);
        case 6 -> { // the app says CLOSING
          FakeTransport t = transportOf(link);
          if (t != null) {
            sync(t);
            link.answered(new Acknowledgement(0, Status.CLOSING));
          }
        }
        case 7 -> { // the app closes its link: it keeps nothing it did not answer
          FakeTransport t = transportOf(link);
          if (t != null) {
            sync(t);
            for (Long id : unanswered.get(t)) {
              liveCopies.merge(id, -1, Integer::sum);
            }
            unanswered.get(t).clear();
            link.ended("end of stream");
            collectResends();
          }
        }
        case 8 -> { // time passes; maybe past the ack timeout
          h.advance(arg % 2 == 0 ? Harness.ACK_TIMEOUT.plusMillis(1) : Duration.ofMillis(arg));
          maintainAll();
        }
        case 9 -> maintainAll(); // (re-)link when due
        case 10 -> { // a waiting connection expires
          AcceptedConnection c = waiting.pollLast();
          if (c != null) {
            h.expire(c);
          }
        }
        case 11 -> { // the proxy begins to shut down, sometimes mid-run
          if (arg % 4 == 0) {
            shuttingDown = true;
            links.forEach(AppLink::stopLinking);
          }
        }
        default -> throw new IllegalStateException();
      }
    }

    private void maintainAll() {
      for (AppLink l : links) {
        FakeTransport before = transportOf(l);
        int count = h.transports.size();
        l.maintain(h.clock.get());
        for (int t = count; t < h.transports.size(); t++) {
          FakeTransport ft = h.transports.get(t);
          owner.put(ft, links.indexOf(l));
          unanswered.put(ft, new ArrayList<>());
          seen.put(ft, 0);
        }
        if (before != null && before.closed) {
          readerWakes(l, before);
        }
      }
    }

    /** The proxy closed {@code t}; its reader sees the link end. */
    private void readerWakes(AppLink l, FakeTransport t) {
      sync(t);
      l.ended("Socket closed");
      collectResends();
    }

    private void send(AppLink link, boolean fail, boolean closeDuring, boolean byInterrupt) {
      AcceptedConnection c = waiting.pollFirst();
      if (c == null) {
        return;
      }
      if (!link.canTake()) {
        waiting.addFirst(c);
        return;
      }
      FakeTransport t = transportOf(link);
      if (fail) {
        t.failNextSend = new IOException("Broken pipe");
      } else if (closeDuring) {
        // the proxy closes the link, or the JDK does because the sending thread was interrupted
        t.duringNextSend = byInterrupt ? t::close : link::close;
      }
      boolean taken = link.send(c);
      sync(t);
      if (!taken) {
        waiting.addFirst(c);
      }
      if (t.closed) {
        readerWakes(link, t);
      }
    }

    /** Copies written to {@code t} since last seen become live in its app. */
    private void sync(FakeTransport t) {
      int n = seen.get(t);
      for (int k = n; k < t.written.size(); k++) {
        long id = t.written.get(k);
        unanswered.get(t).add(id);
        liveCopies.merge(id, 1, Integer::sum);
      }
      seen.put(t, t.written.size());
    }

    private void answer(AppLink link, Status status, int arg) {
      FakeTransport t = transportOf(link);
      if (t == null) {
        return;
      }
      sync(t);
      List<Long> pending = unanswered.get(t);
      if (pending.isEmpty()) {
        return;
      }
      long id = pending.remove(arg % pending.size());
      if (status != Status.ADOPTED) {
        liveCopies.merge(id, -1, Integer::sum);
      }
      link.answered(new Acknowledgement(id, status));
      if (status == Status.RETRY) {
        waiting.addAll(h.retried);
        h.retried.clear();
      }
    }

    private void collectResends() {
      for (AcceptedConnection c : h.resent) {
        waiting.addFirst(c);
      }
      h.resent.clear();
    }

    private void shutdown() {
      shuttingDown = true;
      links.forEach(AppLink::stopLinking);
      for (AppLink l : links) {
        FakeTransport t = transportOf(l);
        l.close();
        if (t != null) {
          readerWakes(l, t);
        }
      }
      AcceptedConnection c;
      while ((c = waiting.poll()) != null) {
        h.droppedAtShutdown(c);
      }
    }

    private void check(CharSequence trace) {
      for (AcceptedConnection c : all.values()) {
        long id = c.id();
        int places = (waiting.contains(c) ? 1 : 0) + h.endsOf(id).size();
        for (AppLink l : links) {
          places += l.holds(id) ? 1 : 0;
        }
        assertEquals(1, places, "c" + id + " in exactly one place (waiting, a link, ended); "
            + h.endsOf(id) + " after " + trace);
        assertTrue(liveCopies.get(id) <= 1, "c" + id + " live in " + liveCopies.get(id)
            + " apps after " + trace);
        assertEquals(h.endsOf(id).isEmpty() ? 0 : 1, h.closes.get(id),
            "c" + id + " closed once when it ended; after " + trace);
      }
    }
  }
}
