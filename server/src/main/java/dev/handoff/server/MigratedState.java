package dev.handoff.server;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.ByteArrayInputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state of a moving connection's {@link MigratableHandler}s, by handler name: collected on the
 * old app, encoded as one byte string that travels after the unsent bytes (docs/PROTOCOL.md), and
 * handed to the handlers of the same names on the new app.
 *
 * <p>Encoding: a 4-byte count, then per handler its name (2-byte length, UTF-8) and its state
 * (4-byte length, bytes). No handler: an empty byte string.
 */
final class MigratedState {
  private static final Logger log = LoggerFactory.getLogger(MigratedState.class);

  private MigratedState() {}

  /**
   * Whether the connection can move now: its pipeline is declared stateless or has a
   * {@link MigratableHandler}, and none of those says {@link MigratableHandler#canMove no}.
   */
  static boolean canMove(ChannelPipeline pipeline, boolean stateless) {
    if (pipeline.get(MigratableHandler.class) == null) {
      // The usual case, answered without iterating the pipeline, which copies its names and
      // handlers into a new map: a take-over asks this of thousands of connections at once, in
      // code that has not been compiled yet.
      return stateless;
    }
    boolean carried = stateless;
    for (Map.Entry<String, ChannelHandler> entry : pipeline) {
      if (entry.getValue() instanceof MigratableHandler handler) {
        if (!handler.canMove(pipeline.context(entry.getKey()))) {
          return false;
        }
        carried = true;
      }
    }
    return carried;
  }

  /** Asks each migratable handler for its state, in pipeline order; on the event loop. */
  static byte[] exportFrom(ChannelPipeline pipeline) {
    if (pipeline.get(MigratableHandler.class) == null) {
      return new byte[0]; // as in canMove
    }
    List<String> names = new ArrayList<>();
    List<byte[]> states = new ArrayList<>();
    for (Map.Entry<String, ChannelHandler> entry : pipeline) {
      if (entry.getValue() instanceof MigratableHandler handler) {
        ChannelHandlerContext ctx = pipeline.context(entry.getKey());
        byte[] state = handler.exportState(ctx);
        names.add(entry.getKey());
        states.add(state == null ? new byte[0] : state);
      }
    }
    if (names.isEmpty()) {
      return new byte[0];
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(names.size());
      for (int i = 0; i < names.size(); i++) {
        out.writeUTF(names.get(i));
        out.writeInt(states.get(i).length);
        out.write(states.get(i));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // in memory: does not happen
    }
    return bytes.toByteArray();
  }

  /** Hands each named state to the handler of that name; on the event loop. */
  static void importInto(ChannelPipeline pipeline, byte[] encoded) {
    if (encoded.length == 0) {
      return;
    }
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(encoded))) {
      int count = in.readInt();
      for (int i = 0; i < count; i++) {
        String name = in.readUTF();
        byte[] state = new byte[in.readInt()];
        in.readFully(state);
        ChannelHandler handler = pipeline.get(name);
        if (handler instanceof MigratableHandler migratable) {
          migratable.importState(pipeline.context(name), state);
        } else {
          log.warn("{}: no migratable handler named '{}' here; its {} bytes of state dropped",
              Handoff.of(pipeline.channel()), name, state.length);
        }
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("malformed handler state (" + encoded.length
          + " bytes): " + e.getMessage(), e);
    }
  }
}
