package dev.handoff.common;

import dev.handoff.common.HandoffException.Reason;
import dev.handoff.common.internal.JunixsocketInternals;
import java.io.FileDescriptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The descriptors that arrived on a link with the message being read, and who owns them.
 *
 * <p>Ownership: a descriptor collected here is this object's until either {@link #claim} makes it
 * a {@link ReceivedHandoff}'s (the caller's from then on), or {@link #closeAll} closes it. Every
 * reading path ends in one of the two, so no received descriptor outlives its message unowned.
 */
final class ArrivedDescriptors {
  private final AFUNIXSocketChannel channel;
  private final List<FileDescriptor> arrived = new ArrayList<>(2);
  /**
   * junixsocket's bookkeeping of the descriptors received on {@link #channel} and not closed yet,
   * which it closes when the channel closes; {@code null} if unreachable (see {@link #claim}).
   */
  private final Map<FileDescriptor, Integer> received;

  ArrivedDescriptors(AFUNIXSocketChannel channel) {
    this.channel = channel;
    this.received = JunixsocketInternals.receivedDescriptors(channel);
  }

  /** Takes in what the last read of the channel brought. */
  void collect() throws IOException {
    FileDescriptor[] fds = channel.getReceivedFileDescriptors();
    if (fds != null) {
      for (FileDescriptor fd : fds) {
        arrived.add(fd);
      }
    }
  }

  int size() {
    return arrived.size();
  }

  boolean isEmpty() {
    return arrived.isEmpty();
  }

  /** Moves every descriptor held to {@code to} (which owns them from then on). */
  void moveTo(List<FileDescriptor> to) {
    to.addAll(arrived);
    arrived.clear();
  }

  /** Takes in descriptors that were set aside (which this object owns from then on). */
  void takeBack(List<FileDescriptor> from) {
    arrived.addAll(from);
    from.clear();
  }

  /** The message's only descriptor, still held here. */
  FileDescriptor exactlyOne(HandoffHeader header) throws HandoffException {
    if (arrived.isEmpty()) {
      throw new HandoffException(Reason.NO_DESCRIPTOR, header.connectionId(),
          header + " arrived without a descriptor");
    }
    if (arrived.size() > 1) {
      throw new HandoffException(Reason.EXTRA_DESCRIPTORS, header.connectionId(),
          header + " arrived with " + arrived.size() + " descriptors (expected 1)");
    }
    return arrived.get(0);
  }

  /**
   * The descriptors of a message that carries {@code count}, in the order they came, still held
   * here.
   */
  List<FileDescriptor> inOrder(int count, HandoffHeader header) throws HandoffException {
    if (arrived.size() != count) {
      // Which copy each belongs to cannot be told: nothing after it can be trusted either.
      throw new HandoffException(Reason.BAD_LENGTH, header + " arrived with " + arrived.size()
          + " descriptors (expected " + count + ", one per copy)");
    }
    return List.copyOf(arrived);
  }

  /** The first descriptor held; there is one. */
  FileDescriptor first() {
    return arrived.get(0);
  }

  /**
   * Makes {@code fd}, one held here, the returned handoff's. junixsocket closes, when the
   * channel closes, every descriptor it received that is still open and still in its bookkeeping:
   * taken out of it, the descriptor outlives the link and is the handoff's alone, and no longer
   * held here. Where that bookkeeping cannot be reached, a duplicate (which junixsocket does not
   * track) is the handoff's and the original stays here, for {@link #closeAll}.
   */
  ReceivedHandoff claim(HandoffHeader header, FileDescriptor fd, byte[] pending, byte[] state)
      throws HandoffException {
    Integer number = received == null ? null : received.remove(fd);
    if (number != null) {
      arrived.remove(fd);
      return new ReceivedHandoff(header, fd, number, pending, state);
    }
    try {
      FileDescriptorCast duplicate = FileDescriptorCast.duplicating(fd);
      return new ReceivedHandoff(header, duplicate.getFileDescriptor(),
          duplicate.as(Integer.class), pending, state);
    } catch (IOException e) {
      throw new HandoffException(Reason.NO_RESOURCES, header.connectionId(),
          "claim fd " + Descriptors.number(fd) + " of " + header + ": " + Errors.describe(e));
    }
  }

  /** Closes every descriptor still held: extra ones, ones of a message refused or read. */
  void closeAll() {
    for (FileDescriptor fd : arrived) {
      Descriptors.close(fd);
    }
    arrived.clear();
  }
}
