package dev.handoff.jetty;

import dev.handoff.server.Handoff;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;

/**
 * Gives each request on a handed-off connection its {@link Handoff} facts, as the request
 * attribute {@link #ATTRIBUTE} (in a servlet: {@code request.getAttribute(HandoffCustomizer.ATTRIBUTE)}).
 * A {@link HandoffConnector} adds it to the {@link HttpConfiguration} of its HTTP/1.1 factory;
 * requests of other connectors are left alone.
 *
 * <p>It also ends the connections that a take-over left here: their next response says {@code
 * Connection: close}, so that the client opens its next connection through the proxy (to the new
 * process) instead of finding this one closed under a request.
 */
public final class HandoffCustomizer implements HttpConfiguration.Customizer {
  /** The request attribute that holds the connection's {@link Handoff}. */
  public static final String ATTRIBUTE = Handoff.class.getName();

  /**
   * The facts of the connection {@code request} came on.
   *
   * @return {@code null} if it did not come through a {@link HandoffConnector}
   */
  public static Handoff handoff(Request request) {
    return request.getAttribute(ATTRIBUTE) instanceof Handoff h ? h : null;
  }

  @Override
  public Request customize(Request request, HttpFields.Mutable responseHeaders) {
    EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
    if (endPoint instanceof HandoffEndPoint handedOff) {
      request.setAttribute(ATTRIBUTE, handedOff.handoff());
      if (handedOff.staying()) {
        responseHeaders.put(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
      }
    }
    return request;
  }
}
