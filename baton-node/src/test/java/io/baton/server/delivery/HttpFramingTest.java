package io.baton.server.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class HttpFramingTest {
  private final HttpFraming.Exchanges exchanges = new HttpFraming.Exchanges();
  private final HttpFraming requests = HttpFraming.requests(exchanges);
  private final HttpFraming responses = HttpFraming.responses(exchanges);

  /**
   * Plays a relay pump over {@code stream} arriving in pieces of {@code piece} bytes: takes
   * classified bytes, feeds the rest from the taken position; returns how many bytes it took.
   */
  private static long relay(HttpFraming framing, String stream, int piece) {
    byte[] bytes = stream.getBytes(StandardCharsets.ISO_8859_1);
    long taken = 0;
    for (int received = Math.min(piece, bytes.length);
        ;
        received = Math.min(received + piece, bytes.length)) {
      while (true) {
        if (framing.opaque()) {
          taken = received;
          break;
        }
        if (framing.pos() > taken) {
          taken = Math.min(framing.pos(), received);
          if (taken < framing.pos()) break; // the rest of a body has not arrived
          continue;
        }
        byte[] window = java.util.Arrays.copyOfRange(bytes, (int) taken, received);
        if (window.length == 0 || !framing.feed(window, window.length)) break;
      }
      if (received == bytes.length) return taken;
    }
  }

  @Test
  void requestsWithAndWithoutBodiesArePipelinedOneByOne() {
    String first = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    String second = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    byte[] both = (first + second).getBytes(StandardCharsets.ISO_8859_1);
    assertThat(requests.feed(both, both.length)).isTrue();
    assertThat(requests.pos())
        .as("stops at the end of the first request")
        .isEqualTo(first.length());
    assertThat(requests.atBoundary()).isTrue();
    assertThat(exchanges.requests()).isEqualTo(1);
    byte[] rest = second.getBytes(StandardCharsets.ISO_8859_1);
    assertThat(requests.feed(rest, rest.length)).isTrue();
    assertThat(requests.pos()).isEqualTo(both.length);
    assertThat(exchanges.requests()).isEqualTo(2);
    assertThat(requests.unmovable()).isNull();
  }

  @Test
  void aBodyIsSkippedWithoutBeingSeen() {
    byte[] head =
        "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    requests.feed("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), 18);
    assertThat(responses.feed(head, head.length)).isTrue();
    assertThat(responses.pos()).isEqualTo(head.length + 1_000_000L);
    assertThat(exchanges.answers()).isEqualTo(1);
  }

  @Test
  void chunkedBodiesInAnyPiecesEndAtTheirLastChunk() {
    String request =
        "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n";
    for (int piece : new int[] {1, 3, 7, 64, 4096}) {
      HttpFraming.Exchanges ex = new HttpFraming.Exchanges();
      HttpFraming f = HttpFraming.requests(ex);
      assertThat(relay(f, request + "GET /next HTTP/1.1\r\n\r\n", piece))
          .as("piece %d", piece)
          .isEqualTo(request.length() + "GET /next HTTP/1.1\r\n\r\n".length());
      assertThat(f.atBoundary()).isTrue();
      assertThat(f.opaque()).isFalse();
      assertThat(ex.requests()).isEqualTo(2);
    }
  }

  @Test
  void answersToHeadAnd1xxAndNoContentHaveNoBody() {
    relay(
        requests,
        "HEAD /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
            + "DELETE /c HTTP/1.1\r\n\r\n",
        5);
    assertThat(exchanges.requests()).isEqualTo(3);
    String answers =
        "HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\n"
            + "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
            + "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
    assertThat(relay(responses, answers, 9)).isEqualTo(answers.length());
    assertThat(exchanges.answers()).isEqualTo(3);
    assertThat(responses.atBoundary()).isTrue();
  }

  @Test
  void whatItCannotFollowFlowsAndPinsTheConnection() {
    assertOpaque(
        HttpFraming.requests(new HttpFraming.Exchanges()), "PING\r\n", "not an HTTP/1.x request");
    assertOpaque(
        HttpFraming.responses(new HttpFraming.Exchanges()),
        "220 smtp.example ESMTP\r\n",
        "not an HTTP/1.x response");
    assertOpaque(
        HttpFraming.requests(new HttpFraming.Exchanges()),
        "CONNECT a:443 HTTP/1.1\r\n\r\n",
        "CONNECT");
    assertOpaque(
        HttpFraming.requests(new HttpFraming.Exchanges()),
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "Content-Length");
    HttpFraming.Exchanges ex = new HttpFraming.Exchanges();
    relay(HttpFraming.requests(ex), "GET / HTTP/1.1\r\n\r\n", 100);
    assertOpaque(
        HttpFraming.responses(ex),
        "HTTP/1.1 200 OK\r\n\r\nuntil the end",
        "ends with the connection");
    HttpFraming.Exchanges ws = new HttpFraming.Exchanges();
    relay(
        HttpFraming.requests(ws),
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        100);
    assertOpaque(
        HttpFraming.responses(ws),
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "switched protocols");
  }

  /**
   * A TLS hello (or any binary start) is given up at its first bytes: the client waits for the
   * server's answer and would never send the blank line a head ends with.
   */
  @Test
  void aTlsHelloIsGivenUpAtOnceWithoutWaitingForMore() {
    byte[] hello = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03, 0x03};
    assertThat(requests.feed(hello, hello.length)).isTrue();
    assertThat(requests.opaque()).isTrue();
    assertThat(requests.unmovable()).contains("not an HTTP/1.x request");
    HttpFraming.Exchanges ex = new HttpFraming.Exchanges();
    HttpFraming partial = HttpFraming.requests(ex);
    byte[] start = "GET /index.ht".getBytes(StandardCharsets.ISO_8859_1);
    assertThat(partial.feed(start, start.length)).as("a plausible start waits").isFalse();
    assertThat(partial.opaque()).isFalse();
  }

  @Test
  void aHeadLongerThanTheLimitMakesTheStreamOpaque() {
    byte[] big =
        ("GET / HTTP/1.1\r\nX: " + "a".repeat(HttpFraming.MAX_HEAD_BYTES))
            .getBytes(StandardCharsets.ISO_8859_1);
    requests.feed(big, HttpFraming.MAX_HEAD_BYTES);
    assertThat(requests.opaque()).isTrue();
    assertThat(requests.unmovable()).contains("longer than");
  }

  @Test
  void aPartialHeadWaitsForMore() {
    byte[] part = "GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.ISO_8859_1);
    assertThat(requests.feed(part, part.length)).isFalse();
    assertThat(requests.pos()).isZero();
    assertThat(requests.opaque()).isFalse();
  }

  @Test
  void closeOrHttp10WithoutKeepAliveMeansTheConnectionCannotMove() {
    relay(requests, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 100);
    assertThat(requests.unmovable()).contains("asked to close");
    HttpFraming.Exchanges ex = new HttpFraming.Exchanges();
    relay(HttpFraming.requests(ex), "GET / HTTP/1.1\r\n\r\n", 100);
    HttpFraming answers = HttpFraming.responses(ex);
    relay(answers, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 100);
    assertThat(answers.unmovable()).contains("upstream closes");
    HttpFraming.Exchanges kept = new HttpFraming.Exchanges();
    HttpFraming r10 = HttpFraming.requests(kept);
    relay(r10, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 100);
    assertThat(r10.unmovable()).isNull();
  }

  private static void assertOpaque(HttpFraming f, String stream, String why) {
    assertThat(relay(f, stream, 4)).as("everything flows").isEqualTo(stream.length());
    assertThat(f.opaque()).isTrue();
    assertThat(f.unmovable()).contains(why);
  }
}
