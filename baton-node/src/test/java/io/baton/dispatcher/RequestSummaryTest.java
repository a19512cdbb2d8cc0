package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.FabricMessage;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The request summary of a HANDOFF is bounded whatever the head holds. */
class RequestSummaryTest {
  @Test
  void aSixThousandCharacterTargetIsCutWithAMarker() {
    String target = "/whoami.txt?q=" + "a".repeat(6_000);

    String summary = RequestSummary.http("GET", target, Optional.of("example.test"));

    assertThat(utf8(summary)).isLessThanOrEqualTo(FabricMessage.MAX_REQUEST_SUMMARY_BYTES);
    assertThat(summary)
        .startsWith("GET /whoami.txt?q=aaaa")
        .contains("...(6014 bytes)")
        .endsWith(" host=example.test");
    String cutTarget = summary.substring(4, summary.indexOf("...("));
    assertThat(utf8(cutTarget)).isEqualTo(RequestSummary.MAX_TARGET_BYTES);
    // The summary is accepted by the message it is made for.
    new FabricMessage.Handoff(1, new byte[0], "198.18.0.100:80", "web", summary);
  }

  @Test
  void aShortRequestIsKeptWhole() {
    assertThat(RequestSummary.http("GET", "/x", Optional.of("y"))).isEqualTo("GET /x host=y");
    assertThat(RequestSummary.http("GET", "/x", Optional.empty())).isEqualTo("GET /x");
    assertThat(RequestSummary.tls(Optional.empty())).isEqualTo("tls sni=-");
  }

  @Test
  void theCutNeverSplitsAMultiByteCharacter() {
    // 'é' is two bytes of UTF-8 (ISO-8859-1 heads decode byte 0xE9 to it); an odd prefix puts
    // the limit in the middle of one.
    String target = "/" + "é".repeat(3_000);
    String summary = RequestSummary.http("GET", target, Optional.empty());
    String cut = summary.substring(4, summary.indexOf("...("));
    assertThat(utf8(cut)).isEqualTo(RequestSummary.MAX_TARGET_BYTES - 1);
    assertThat(cut).isEqualTo("/" + "é".repeat((RequestSummary.MAX_TARGET_BYTES - 1) / 2));

    // Four-byte characters (a surrogate pair each) are never split into a lone surrogate.
    String emoji = "\uD83D\uDE00".repeat(100); // 400 bytes
    String fitted = FabricMessage.fit(emoji, 255);
    assertThat(utf8(fitted)).isEqualTo(252);
    assertThat(Character.isHighSurrogate(fitted.charAt(fitted.length() - 1))).isFalse();
  }

  @Test
  void everyPartIsBoundedEvenAllTogether() {
    String method = "X".repeat(100_000);
    String target = "/" + "\u00ff".repeat(1 << 20);
    String host = "h".repeat(100_000);

    String summary = RequestSummary.http(method, target, Optional.of(host));

    assertThat(utf8(summary)).isLessThan(1024);
    new FabricMessage.Handoff(1, new byte[0], "198.18.0.100:80", "web", summary);
  }

  private static int utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }
}
