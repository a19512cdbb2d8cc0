package io.baton.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SpellingTest {
  private static final List<String> KEYS = List.of("address", "port", "mode", "default-pool");

  @Test
  void suggestsTheKeyATypoMeant() {
    assertThat(Spelling.closest("defualt-pool", KEYS)).isEqualTo("default-pool");
    assertThat(Spelling.closest("adress", KEYS)).isEqualTo("address");
    assertThat(Spelling.closest("prot", KEYS)).isEqualTo("port");
  }

  @Test
  void suggestsNothingForUnrelatedWords() {
    assertThat(Spelling.closest("listen", KEYS)).isNull();
  }

  @Test
  void listsAlternativesLikeASentence() {
    assertThat(Spelling.oneOf(List.of("a"))).isEqualTo("a");
    assertThat(Spelling.oneOf(List.of("a", "b"))).isEqualTo("a or b");
    assertThat(Spelling.oneOf(List.of("a", "b", "c"))).isEqualTo("a, b or c");
  }
}
