package dev.handoff.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.handoff.common.Acknowledgement.Status;
import dev.handoff.common.HandoffException.Reason;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class AckCodecTest {
  private static ByteBuffer encode(Acknowledgement ack) {
    ByteBuffer buf = ByteBuffer.allocate(AckCodec.LENGTH);
    AckCodec.encode(ack, buf);
    assertEquals(AckCodec.LENGTH, buf.position());
    return buf.flip();
  }

  @Test
  void roundTripsEveryStatus() throws Exception {
    for (Status status : Status.values()) {
      Acknowledgement ack = new Acknowledgement(Long.MAX_VALUE - 7, status);
      assertEquals(ack, AckCodec.decode(encode(ack)));
    }
  }

  @Test
  void rejectsWhatIsNotAnAcknowledgement() {
    ByteBuffer magic = encode(new Acknowledgement(1, Status.ADOPTED));
    magic.putInt(0, HeaderCodec.MAGIC);
    assertEquals(Reason.BAD_MAGIC,
        assertThrows(HandoffException.class, () -> AckCodec.decode(magic)).reason());
    ByteBuffer version = encode(new Acknowledgement(1, Status.ADOPTED));
    version.put(4, (byte) 1);
    assertEquals(Reason.BAD_VERSION,
        assertThrows(HandoffException.class, () -> AckCodec.decode(version)).reason());
    ByteBuffer length = encode(new Acknowledgement(1, Status.ADOPTED));
    length.putShort(6, (short) 64);
    assertEquals(Reason.BAD_LENGTH,
        assertThrows(HandoffException.class, () -> AckCodec.decode(length)).reason());
  }

  @Test
  void anUnknownStatusIsReportedAsSuchWithItsIdAndTheWholeMessageRead() {
    ByteBuffer status = encode(new Acknowledgement(77, Status.ADOPTED));
    status.put(5, (byte) 9);
    HandoffException e = assertThrows(HandoffException.class, () -> AckCodec.decode(status));
    assertEquals(Reason.UNKNOWN_STATUS, e.reason());
    assertEquals(77, e.connectionId());
    assertEquals(AckCodec.LENGTH, status.position(), "the message was read whole");
    assertTrue(e.reason().resynchronisable(), "the stream is still in sync");
    assertTrue(e.getMessage().contains("unknown status 9"), e.getMessage());
  }
}
