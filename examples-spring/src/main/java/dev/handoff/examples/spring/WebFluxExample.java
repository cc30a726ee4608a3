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
 * The example's {@code webflux} profile: the same {@code GET /} as {@link SpringExample}, served by
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
      StringBuilder page = new StringBuilder()
          .append("pid=").append(ProcessHandle.current().pid()).append('\n')
          .append("remote=").append(remote == null ? "" : remote.getHostString() + ":"
              + remote.getPort()).append('\n');
      Object nativeRequest = ServerHttpRequestDecorator.getNativeRequest(http);
      Handoff h = nativeRequest instanceof Connection c ? Handoff.of(c.channel()) : null;
      if (h != null) {
        page.append("connection=c").append(h.connectionId()).append('\n')
            .append("client=").append(h.client()).append('\n')
            .append("local=").append(h.local()).append('\n')
            .append("accepted=").append(h.acceptedAt()).append('\n')
            .append("migrated=").append(h.migrated()).append('\n');
      } else {
        page.append("handoff=none\n");
      }
      return ServerResponse.ok().contentType(MediaType.TEXT_PLAIN).bodyValue(page.toString());
    }).build();
  }
}
