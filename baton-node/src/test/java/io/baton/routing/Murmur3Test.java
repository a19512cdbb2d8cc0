package io.baton.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Reference values from Guava's {@code Hashing.murmur3_128(0).hashBytes(..).asLong()}. */
class Murmur3Test {
  @ParameterizedTest(name = "\"{0}\"")
  @CsvSource({
    "'', 0x0000000000000000",
    "hello, 0xcbd8a7b341bd9b02",
    "The quick brown fox jumps over the lazy dog, 0xe34bbc7bbc071b6c"
  })
  void matchesReferenceValues(String input, String expectedHex) {
    long expected = Long.parseUnsignedLong(expectedHex.substring(2), 16);

    assertThat(Murmur3.hash64(input.getBytes(StandardCharsets.UTF_8), 0)).isEqualTo(expected);
  }
}
