/**
 * The benchmark suite, run by scripts/bench*.sh and never by a build: the load generator
 * ({@link dev.handoff.bench.LoadGen}), a plain NIO echo server to compare with, and JMH
 * microbenchmarks of the header codec and of a handoff through {@code HandoffChannel}. Calls
 * {@code dev.handoff.common} (and its {@code internal} package for the descriptor path) only.
 */
package dev.handoff.bench;
