package dev.handoff.common;

/**
 * One connection in the second phase of a two-phase take-over (docs/PROTOCOL.md, "Taking over
 * from a running app"): a {@link HandoffHeader.Kind#SWITCHED SWITCHED} header followed by the
 * connection's unsent bytes and handler state, or a {@link HandoffHeader.Kind#DROPPED DROPPED}
 * header alone. The connection id is the one its PREPARED message had.
 *
 * @param header its kind is SWITCHED or DROPPED; its byte counts are set from the arrays
 * @param pending the bytes read from the client and not yet echoed (empty for DROPPED)
 * @param state the handlers' exported state (empty for DROPPED)
 */
public record SwitchedConnection(HandoffHeader header, byte[] pending, byte[] state) {
  /** The connection, paused, with what it had not sent and its handlers' state. */
  public static SwitchedConnection switched(HandoffHeader prepared, byte[] pending,
      byte[] state) {
    return new SwitchedConnection(prepared.as(HandoffHeader.Kind.SWITCHED, pending.length,
        state.length), pending, state);
  }

  /** The connection does not move: the successor closes its copy. */
  public static SwitchedConnection dropped(HandoffHeader prepared) {
    return new SwitchedConnection(prepared.as(HandoffHeader.Kind.DROPPED, 0, 0), new byte[0],
        new byte[0]);
  }
}
