package dev.handoff.bench;

import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/** One client connection of the load generator and where its two byte streams stand. */
final class Conn {
  SocketChannel channel;
  SelectionKey key;
  /** Chooses this connection's byte stream (see {@link Pattern}). */
  int seed;
  /** Bytes written so far. */
  long sent;
  /** Bytes read back, and verified, so far. */
  long received;
  /** When the current exchange started (System.nanoTime), for round-trip times. */
  long startedNanos;
  /** Bytes the current exchange still has to write. */
  int toWrite;
  boolean done;
  /** Counted among the scenario's active connections. */
  boolean running;
  /** Scenario-specific state. */
  int phase;

  void reset(int newSeed) {
    channel = null;
    key = null;
    seed = newSeed;
    sent = 0;
    received = 0;
    startedNanos = 0;
    toWrite = 0;
    done = false;
    running = false;
    phase = 0;
  }

  void close() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // closing is all we wanted
      }
    }
    key = null;
  }
}
