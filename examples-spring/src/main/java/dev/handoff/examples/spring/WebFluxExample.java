package dev.handoff.examples.spring;

import dev.handoff.server.Handoff;
import java.net.InetSocketAddress;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.netty.Connection;

/**
 * The example's {@code webflux} profile: the same {@code GET /} as {@link MvcExample}, served by
 * WebFlux on Reactor Netty. The connection's Handoff facts are its Netty channel's attribute.
 */
@Configuration(proxyBeanMethods = false)
@Profile("webflux")
class WebFluxExample {
  @Bean
  RouterFunction<ServerResponse> index() {
    return RouterFunctions.route().GET("/", request -> {
      ServerHttpRequest http = request.exchange().getRequest();
      InetSocketAddress remote = http.getRemoteAddress();
      Object nativeRequest = ServerHttpRequestDecorator.getNativeRequest(http);
      String page = Page.of(remote == null ? "" : remote.getHostString() + ":" + remote.getPort(),
          nativeRequest instanceof Connection c ? Handoff.of(c.channel()) : null);
      return ServerResponse.ok().contentType(MediaType.TEXT_PLAIN).bodyValue(page);
    }).build();
  }
}
