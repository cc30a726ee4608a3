package dev.handoff.common;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;

/**
 * One end of a link that handoffs travel on: messages with descriptors one way, acknowledgements
 * the other. {@link HandoffChannel} is the real one, over a unix socket; the state machines that
 * use a link (an app's link reader, a take-over) take this interface so that tests can drive them
 * through every transition with a fake.
 *
 * <p>Ownership is as documented on {@link HandoffChannel}: a descriptor passed to a send method
 * stays the caller's; a {@link ReceivedHandoff} returned by {@link #receive()} owns its
 * descriptor; closing the link closes no descriptor that came on it.
 */
public interface HandoffLink extends Closeable {
  /** Sends one connection with its header; see {@link HandoffChannel#send}. */
  void send(HandoffHeader header, FileDescriptor fd) throws IOException;

  /**
   * Sends a connection to a successor app with its unsent bytes and its exported handler state
   * (empty if none).
   */
  void sendMigrated(HandoffHeader header, FileDescriptor fd, byte[] pending, byte[] state)
      throws IOException;

  /**
   * Sends the second phase of a two-phase take-over (docs/PROTOCOL.md): one SWITCHED or DROPPED
   * message per connection sent as PREPARED before, none with a descriptor, in as few writes as
   * their bytes take.
   */
  void sendSwitch(java.util.List<SwitchedConnection> connections) throws IOException;

  /**
   * Sends several copies of a two-phase take-over's first phase at once, to a successor that asked
   * for them (docs/PROTOCOL.md, COPIES); by default one PREPARED message each.
   *
   * @param prepared PREPARED headers, at most {@link HandoffChannel#MAX_COPIES}
   * @param fds their descriptors, in the same order; they stay the caller's
   */
  default void sendCopies(java.util.List<HandoffHeader> prepared,
      java.util.List<FileDescriptor> fds) throws IOException {
    for (int i = 0; i < prepared.size(); i++) {
      send(prepared.get(i), fds.get(i));
    }
  }

  /**
   * The second phase of a two-phase take-over to a successor that asked for SWITCHES messages
   * (docs/PROTOCOL.md): as {@link #sendSwitch}, several connections to a message; by default
   * {@link #sendSwitch}.
   */
  default void sendSwitches(java.util.List<SwitchedConnection> connections) throws IOException {
    sendSwitch(connections);
  }

  /**
   * Whether {@link #receive()} will return a message without waiting on the link (the rest of a
   * COPIES or SWITCHES message); by default never.
   */
  default boolean messageWaiting() {
    return false;
  }

  /**
   * Receives the next message.
   *
   * @return the handoff, or {@code null} at the end of the link
   * @throws HandoffException if the message was refused (its descriptors closed)
   */
  ReceivedHandoff receive() throws IOException;

  /** Sends an answer; safe to call from several threads. */
  void sendAck(Acknowledgement ack) throws IOException;

  /**
   * Sends several answers; by default one after the other. Safe to call from two threads.
   *
   * @param acks the answers, in order
   * @throws IOException if the link takes no more answers
   */
  default void sendAcks(java.util.List<Acknowledgement> acks) throws IOException {
    for (Acknowledgement ack : acks) {
      sendAck(ack);
    }
  }

  /** Receives the next answer, or {@code null} at the end of the link. */
  Acknowledgement receiveAck() throws IOException;

  /** Stops receiving: what is queued can still be read, then the end of the link. */
  void shutdownInput() throws IOException;

  /** Sends no more: the peer reads what was sent, then the end of the link. */
  void shutdownOutput() throws IOException;

  /** How messages name the other end. */
  String peer();

  /**
   * Whether this is a plain link (docs/PROTOCOL.md, "Plain mode"): its sender passes bare
   * descriptors, reads nothing, and must be sent no answers.
   */
  default boolean plain() {
    return false;
  }

  /** Closes the link; safe to call more than once. */
  @Override
  void close() throws IOException;
}
