package dev.handoff.examples.http;

import dev.handoff.server.Handoff;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The application: answers whole requests (after the aggregator).
 *
 * <ul>
 *   <li>{@code GET /}: a text page, one {@code key: value} per line: the serving process's pid,
 *       the connection's {@link Handoff} facts, and the number of this request on its connection
 *       (which carries on across a take-over);
 *   <li>{@code GET /echo?x=TEXT}: TEXT, percent-decoded, as UTF-8 text;
 *   <li>{@code POST /echo}: the request body, byte for byte;
 *   <li>anything else: 404 or 405; a request the codec could not parse: 400, and the connection
 *       closes.
 * </ul>
 */
@Sharable
final class HelloHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger log = LoggerFactory.getLogger(HelloHandler.class);
  private static final long PID = ProcessHandle.current().pid();

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    if (!request.decoderResult().isSuccess()) {
      FullHttpResponse bad = text(HttpResponseStatus.BAD_REQUEST, "bad request\n");
      HttpUtil.setKeepAlive(bad, false);
      ctx.writeAndFlush(bad).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    QueryStringDecoder uri = new QueryStringDecoder(request.uri());
    FullHttpResponse response;
    switch (uri.path()) {
      case "/" -> response = request.method().equals(HttpMethod.GET)
          ? text(HttpResponseStatus.OK, page(ctx)) : notAllowed("GET");
      case "/echo" -> {
        if (request.method().equals(HttpMethod.GET)) {
          List<String> x = uri.parameters().get("x");
          response = text(HttpResponseStatus.OK, x == null || x.isEmpty() ? "" : x.get(0));
        } else if (request.method().equals(HttpMethod.POST)) {
          response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
              request.content().retainedDuplicate());
          response.headers().set(HttpHeaderNames.CONTENT_TYPE,
              HttpHeaderValues.APPLICATION_OCTET_STREAM);
        } else {
          response = notAllowed("GET, POST");
        }
      }
      default -> response = text(HttpResponseStatus.NOT_FOUND, "not found\n");
    }
    HttpUtil.setContentLength(response, response.content().readableBytes());
    // HttpServerKeepAliveHandler closes the connection after this response if the request asked.
    HttpUtil.setKeepAlive(response, HttpUtil.isKeepAlive(request));
    ctx.writeAndFlush(response);
  }

  private static String page(ChannelHandlerContext ctx) {
    Handoff handoff = Handoff.of(ctx.channel());
    HttpMoveGuard guard = ctx.pipeline().get(HttpMoveGuard.class);
    return "hello from a handoff HTTP server\n"
        + "pid: " + PID + "\n"
        + "connection: " + (handoff == null ? "?" : "c" + handoff.connectionId()) + "\n"
        + "client: " + (handoff == null ? ctx.channel().remoteAddress() : handoff.client()) + "\n"
        + "migrated: " + (handoff != null && handoff.migrated()) + "\n"
        + "request: " + (guard == null ? "?" : guard.requests()) + "\n";
  }

  private static FullHttpResponse text(HttpResponseStatus status, String body) {
    ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
    FullHttpResponse response =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    HttpUtil.setContentLength(response, content.readableBytes());
    return response;
  }

  private static FullHttpResponse notAllowed(String allow) {
    FullHttpResponse response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "method not allowed\n");
    response.headers().set(HttpHeaderNames.ALLOW, allow);
    return response;
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("{}: {}; closing", Handoff.of(ctx.channel()), cause.toString());
    ctx.close();
  }
}
