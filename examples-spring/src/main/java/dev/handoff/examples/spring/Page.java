package dev.handoff.examples.spring;

import dev.handoff.server.Handoff;

/** The example's answer to {@code GET /}, one {@code key=value} a line, on MVC and WebFlux alike. */
final class Page {
  private Page() {}

  /**
   * @param remote the request's remote address and port, as the web framework reports it
   * @param handoff the connection's facts; {@code null} if it did not come through the proxy
   */
  static String of(String remote, Handoff handoff) {
    StringBuilder page = new StringBuilder()
        .append("pid=").append(ProcessHandle.current().pid()).append('\n')
        .append("remote=").append(remote).append('\n');
    if (handoff == null) {
      return page.append("handoff=none\n").toString();
    }
    return page.append("connection=c").append(handoff.connectionId()).append('\n')
        .append("client=").append(handoff.client()).append('\n')
        .append("local=").append(handoff.local()).append('\n')
        .append("accepted=").append(handoff.acceptedAt()).append('\n')
        .append("migrated=").append(handoff.migrated()).append('\n')
        .toString();
  }
}
