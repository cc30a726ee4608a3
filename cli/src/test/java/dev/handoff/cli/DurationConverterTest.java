package dev.handoff.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

class DurationConverterTest {
  private final DurationConverter converter = new DurationConverter();

  @Test
  void readsTheUnitsPeopleType() {
    assertEquals(Duration.ofMillis(250), converter.convert("250ms"));
    assertEquals(Duration.ofSeconds(10), converter.convert("10s"));
    assertEquals(Duration.ofMinutes(2), converter.convert("2m"));
    assertEquals(Duration.ofHours(1), converter.convert("1h"));
    assertEquals(Duration.ZERO, converter.convert("0"));
  }

  @Test
  void refusesWhatIsNotADuration() {
    for (String bad : new String[] {"", "10", "ten seconds", "-1s", "PT10S", "1.5s"}) {
      assertThrows(TypeConversionException.class, () -> converter.convert(bad), bad);
    }
  }

  @Test
  void formatsInTheFormItReads() {
    assertEquals("250ms", DurationConverter.format(Duration.ofMillis(250)));
    assertEquals("10s", DurationConverter.format(Duration.ofSeconds(10)));
  }
}
