package dev.handoff.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The CPU time the server processes spent during a scenario's measured window, from
 * {@code /proc/PID/task/TID/stat} (user + system time of every thread) read at the window's start
 * and end: per process, and per thread group (the thread's name without its numbers, e.g.
 * {@code echo-1-2} counts under {@code echo}). Divided by the window's operations it gives the
 * servers' CPU per operation, the figure that connections per second hide when the load generator
 * saturates a core.
 *
 * <p>{@code --cpu label:PID,label:PID} names the processes; the result line gains
 * {@code cpu_ms.LABEL=...} and {@code cpu_threads.LABEL=group:ms;group:ms...}.
 */
final class CpuWindow {
  private static final double MS_PER_TICK = 1000.0 / ticksPerSecond();

  private final Map<String, Long> pids;
  private final CountDownLatch done = new CountDownLatch(1);
  private Map<String, Map<Long, Sample>> atStart = Map.of();
  private Map<String, Map<Long, Sample>> atEnd = Map.of();

  private record Sample(String group, long ticks) {}

  /** @param spec {@code label:PID,...}, or null for no measurement */
  CpuWindow(String spec) {
    pids = new LinkedHashMap<>();
    if (spec != null && !spec.isBlank()) {
      for (String part : spec.split(",")) {
        String[] kv = part.split(":");
        pids.put(kv[0], Long.parseLong(kv[1]));
      }
    }
  }

  /** Samples at {@code startNanos} and {@code endNanos} (System.nanoTime), on a thread of its own. */
  void schedule(long startNanos, long endNanos) {
    if (pids.isEmpty()) {
      done.countDown();
      return;
    }
    Thread sampler = new Thread(() -> {
      sleepUntil(startNanos);
      atStart = sampleAll();
      sleepUntil(endNanos);
      atEnd = sampleAll();
      done.countDown();
    }, "cpu-window");
    sampler.setDaemon(true);
    sampler.start();
  }

  /** The result fields, once the window has ended. */
  String fields() {
    try {
      if (!done.await(30, TimeUnit.SECONDS)) {
        return " cpu=unmeasured";
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return " cpu=unmeasured";
    }
    StringBuilder out = new StringBuilder();
    for (String label : pids.keySet()) {
      Map<Long, Sample> start = atStart.getOrDefault(label, Map.of());
      Map<Long, Sample> end = atEnd.getOrDefault(label, Map.of());
      Map<String, Long> groups = new TreeMap<>();
      long total = 0;
      for (Map.Entry<Long, Sample> e : end.entrySet()) {
        Sample before = start.get(e.getKey());
        long delta = e.getValue().ticks() - (before == null ? 0 : before.ticks());
        total += delta;
        groups.merge(e.getValue().group(), delta, Long::sum);
      }
      out.append(String.format(Locale.ROOT, " cpu_ms.%s=%.1f", label, total * MS_PER_TICK));
      StringBuilder g = new StringBuilder();
      for (Map.Entry<String, Long> e : groups.entrySet()) {
        if (e.getValue() > 0) {
          g.append(g.length() == 0 ? "" : ";").append(e.getKey().replace(' ', '_')).append(':')
              .append(String.format(Locale.ROOT, "%.0f", e.getValue() * MS_PER_TICK));
        }
      }
      out.append(" cpu_threads.").append(label).append('=').append(g.length() == 0 ? "-" : g);
    }
    return out.toString();
  }

  private Map<String, Map<Long, Sample>> sampleAll() {
    Map<String, Map<Long, Sample>> all = new LinkedHashMap<>();
    for (Map.Entry<String, Long> p : pids.entrySet()) {
      Map<Long, Sample> threads = new LinkedHashMap<>();
      try (DirectoryStream<Path> tasks = Files.newDirectoryStream(
          Path.of("/proc", Long.toString(p.getValue()), "task"))) {
        for (Path task : tasks) {
          Sample s = read(task.resolve("stat"));
          if (s != null) {
            threads.put(Long.parseLong(task.getFileName().toString()), s);
          }
        }
      } catch (IOException e) {
        // the process is gone: nothing to count
      }
      all.put(p.getKey(), threads);
    }
    return all;
  }

  /** utime + stime of one thread, and its group: the name in parentheses, digits stripped. */
  private static Sample read(Path stat) {
    try {
      String line = Files.readString(stat);
      int open = line.indexOf('(');
      int close = line.lastIndexOf(')');
      String name = line.substring(open + 1, close);
      String[] f = line.substring(close + 2).split(" ");
      // after "pid (comm) ": state is f[0]; utime and stime are fields 14 and 15 of the line
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      String group = name.replaceAll("[-#]?[0-9]+", "").replaceAll("[-_]+$", "");
      return new Sample(group.isEmpty() ? name : group, ticks);
    } catch (IOException | RuntimeException e) {
      return null; // the thread ended meanwhile
    }
  }

  private static void sleepUntil(long nanos) {
    long left;
    while ((left = nanos - System.nanoTime()) > 0) {
      LockSupport.parkNanos(left);
    }
  }

  private static long ticksPerSecond() {
    try {
      Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      p.waitFor();
      return Long.parseLong(out);
    } catch (IOException | RuntimeException | InterruptedException e) {
      return 100;
    }
  }
}
