package dev.handoff.examples.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** When the guard lets a connection move: the real pipeline, on an embedded channel. */
class HttpMoveGuardTest {
  private static final String GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  private EmbeddedChannel channel = http();

  private static EmbeddedChannel http() {
    EmbeddedChannel ch = new EmbeddedChannel();
    HttpApp.pipeline(ch.pipeline(), new HelloHandler(), 1024);
    return ch;
  }

  @AfterEach
  void close() {
    channel.finishAndReleaseAll();
  }

  private boolean canMove() {
    return guard().canMove(channel.pipeline().context(HttpApp.GUARD));
  }

  private HttpMoveGuard guard() {
    return (HttpMoveGuard) channel.pipeline().get(HttpApp.GUARD);
  }

  private void send(String bytes) {
    channel.writeInbound(Unpooled.copiedBuffer(bytes, StandardCharsets.US_ASCII));
  }

  /** Every response written so far, as text. */
  private String responses() {
    StringBuilder all = new StringBuilder();
    for (ByteBuf out; (out = channel.readOutbound()) != null; ) {
      all.append(out.toString(StandardCharsets.UTF_8));
      out.release();
    }
    return all.toString();
  }

  @Test
  void idleBetweenRequestsMoves() {
    assertTrue(canMove(), "a fresh connection");
    send(GET);
    assertTrue(responses().contains("request: 1\n"));
    assertTrue(canMove(), "answered, nothing more read");
    send(GET);
    assertTrue(responses().contains("request: 2\n"));
    assertTrue(canMove());
  }

  @Test
  void headersCutAcrossReadsStay() {
    send("GET / HTTP/1.1\r\nHo");
    assertFalse(canMove(), "bytes left in the decoder's buffer");
    send("st: x\r\n");
    assertFalse(canMove(), "request line and a header parsed, the head not finished");
    send("\r\n");
    assertTrue(responses().startsWith("HTTP/1.1 200 OK"));
    assertTrue(canMove());
  }

  @Test
  void bodyInProgressStays() {
    send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc");
    assertFalse(canMove(), "the aggregator holds half a body");
    assertEquals("", responses());
    send("def");
    assertTrue(responses().endsWith("\r\n\r\nabcdef"));
    assertTrue(canMove());
  }

  @Test
  void startOfAPipelinedRequestStays() {
    send(GET + "GET /echo?x=1 HT");
    assertTrue(responses().contains("request: 1\n"), "the first one is answered");
    assertFalse(canMove(), "the second one has begun");
    send("TP/1.1\r\nHost: x\r\n\r\n");
    assertTrue(responses().endsWith("\r\n\r\n1"));
    assertTrue(canMove());
    assertEquals(2, guard().requests());
  }

  @Test
  void twoWholePipelinedRequestsMove() {
    send(GET + GET);
    String both = responses();
    assertTrue(both.contains("request: 1\n") && both.contains("request: 2\n"), both);
    assertTrue(canMove());
  }

  @Test
  void theCountMovesWithTheConnection() {
    send(GET);
    send(GET);
    responses();
    byte[] state = guard().exportState(channel.pipeline().context(HttpApp.GUARD));
    EmbeddedChannel successor = http();
    try {
      HttpMoveGuard moved = (HttpMoveGuard) successor.pipeline().get(HttpApp.GUARD);
      moved.importState(successor.pipeline().context(HttpApp.GUARD), state);
      successor.writeInbound(Unpooled.copiedBuffer(GET, StandardCharsets.US_ASCII));
      ByteBuf out = successor.readOutbound();
      assertTrue(out.toString(StandardCharsets.UTF_8).contains("request: 3\n"));
      out.release();
      assertNull(successor.readOutbound());
    } finally {
      successor.finishAndReleaseAll();
    }
  }
}
