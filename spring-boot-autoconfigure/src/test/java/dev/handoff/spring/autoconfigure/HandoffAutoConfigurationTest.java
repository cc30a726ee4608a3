package dev.handoff.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;

class HandoffAutoConfigurationTest {
  private final WebApplicationContextRunner runner = new WebApplicationContextRunner()
      .withConfiguration(AutoConfigurations.of(HandoffAutoConfiguration.class));

  @Test
  void withoutTheSocketPropertyNothingChanges() {
    runner.run(context -> {
      assertThat(context).doesNotHaveBean(HandoffJettyCustomizer.class);
      assertThat(context).doesNotHaveBean(HandoffReceivers.class);
      assertThat(context).doesNotHaveBean(HandoffHealthIndicator.class);
    });
  }

  @Test
  void theSocketPropertyAddsTheJettyCustomizerAndTheHealthIndicator() {
    runner.withPropertyValues("handoff.socket=/run/app/app.sock").run(context -> {
      assertThat(context).hasSingleBean(HandoffJettyCustomizer.class);
      HandoffHealthIndicator health = context.getBean(HandoffHealthIndicator.class);
      assertThat(health.health().getStatus())
          .as("no receiver before the web server starts").isEqualTo(Status.UNKNOWN);
    });
  }

  @Test
  void anApplicationsOwnCustomizerReplacesOurs() {
    HandoffJettyCustomizer own = new HandoffJettyCustomizer(new HandoffProperties(), null,
        new HandoffReceivers(), () -> { });
    runner.withPropertyValues("handoff.socket=/run/app/app.sock")
        .withBean("ownCustomizer", HandoffJettyCustomizer.class, () -> own)
        .run(context -> assertThat(context.getBean(HandoffJettyCustomizer.class)).isSameAs(own));
  }

  @Test
  void optionsBindFromHandoffProperties() {
    runner.withPropertyValues("handoff.socket=/run/app/app.sock", "handoff.socket-mode=rw-rw----",
        "handoff.allowed-uids=0,1000", "handoff.max-connections=500", "handoff.take-over=true",
        "handoff.move-window=500ms", "handoff.exit-after-hand-over=false").run(context -> {
          HandoffProperties p = context.getBean(HandoffProperties.class);
          assertThat(p.getSocket()).isEqualTo(Path.of("/run/app/app.sock"));
          assertThat(p.getSocketMode()).isEqualTo("rw-rw----");
          assertThat(p.getAllowedUids()).isEqualTo(List.of(0, 1000));
          assertThat(p.getMaxConnections()).isEqualTo(500);
          assertThat(p.isTakeOver()).isTrue();
          assertThat(p.getMoveWindow()).isEqualTo(Duration.ofMillis(500));
          assertThat(p.isExitAfterHandOver()).isFalse();
        });
  }

  @Test
  void theConfigurationProcessorDescribesEveryOption() throws Exception {
    try (InputStream in = getClass().getResourceAsStream(
        "/META-INF/spring-configuration-metadata.json")) {
      assertThat(in).as("metadata generated at build time").isNotNull();
      String metadata = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      for (String option : List.of("handoff.socket", "handoff.socket-mode",
          "handoff.allowed-uids", "handoff.max-connections", "handoff.take-over",
          "handoff.move-window", "handoff.exit-after-hand-over")) {
        assertThat(metadata).contains("\"name\": \"" + option + "\"");
      }
    }
  }
}
