package io.baton.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.routing.HttpHeadParser.Complete;
import io.baton.routing.HttpHeadParser.Malformed;
import io.baton.routing.HttpHeadParser.NeedMore;
import io.baton.routing.HttpHeadParser.Result;
import io.baton.routing.HttpHeadParser.TooLarge;
import io.baton.routing.HttpHeadParser.TooManyFields;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Table-driven tests for {@link HttpHeadParser}. Heads are written with visible CRLFs. */
class HttpHeadParserTest {
  private static final String CRLF = "\r\n";

  // ---------------------------------------------------------------- valid heads

  static Stream<Arguments> validHeads() {
    return Stream.of(
        Arguments.of(
            "simple GET",
            "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            "example.com"),
        Arguments.of(
            "path and query",
            "GET /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: a.b\r\n\r\n",
            "GET",
            "/a/b%20c",
            "x=1&y=2",
            "HTTP/1.1",
            "a.b"),
        Arguments.of(
            "empty query",
            "GET /a? HTTP/1.1\r\nHost: a.b\r\n\r\n",
            "GET",
            "/a",
            "",
            "HTTP/1.1",
            "a.b"),
        Arguments.of(
            "host lowercased, port stripped",
            "GET / HTTP/1.1\r\nHost: API.Example.COM:8080\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            "api.example.com"),
        Arguments.of(
            "host trailing dot dropped",
            "GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            "example.com"),
        Arguments.of(
            "ipv6 host",
            "GET / HTTP/1.1\r\nHost: [2001:DB8::1]:80\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            "[2001:db8::1]"),
        Arguments.of(
            "ipv4 host",
            "GET / HTTP/1.1\r\nHost: 198.18.0.100\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            "198.18.0.100"),
        Arguments.of(
            "empty Host value",
            "GET / HTTP/1.1\r\nHost:\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            null),
        Arguments.of(
            "HTTP/1.0 without Host",
            "GET /x HTTP/1.0\r\n\r\n",
            "GET",
            "/x",
            null,
            "HTTP/1.0",
            null),
        Arguments.of(
            "HTTP/1.0 with Host",
            "GET /x HTTP/1.0\r\nHost: h\r\n\r\n",
            "GET",
            "/x",
            null,
            "HTTP/1.0",
            "h"),
        Arguments.of(
            "absolute-form uses authority",
            "GET http://Example.COM:8080/a?b=1 HTTP/1.1\r\nHost: other.example\r\n\r\n",
            "GET",
            "/a",
            "b=1",
            "HTTP/1.1",
            "example.com"),
        Arguments.of(
            "absolute-form without path",
            "GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            "example.com"),
        Arguments.of(
            "absolute-form query only",
            "GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "GET",
            "/",
            "q",
            "HTTP/1.1",
            "example.com"),
        Arguments.of(
            "asterisk-form",
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            "OPTIONS",
            "*",
            null,
            "HTTP/1.1",
            "h"),
        Arguments.of(
            "extension method",
            "PURGE /c HTTP/1.1\r\nHost: h\r\n\r\n",
            "PURGE",
            "/c",
            null,
            "HTTP/1.1",
            "h"),
        Arguments.of(
            "leading empty lines skipped",
            "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            "h"),
        Arguments.of(
            "POST with Content-Length",
            "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n",
            "POST",
            "/u",
            null,
            "HTTP/1.1",
            "h"),
        Arguments.of(
            "chunked POST",
            "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST",
            "/u",
            null,
            "HTTP/1.1",
            "h"),
        Arguments.of(
            "tab and obs-text in values",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A:\tv\u00e9 x \t\r\n\r\n",
            "GET",
            "/",
            null,
            "HTTP/1.1",
            "h"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("validHeads")
  void parsesValidHead(
      String name,
      String raw,
      String method,
      String path,
      String query,
      String version,
      String host) {
    Complete complete = complete(parseAll(raw));

    RequestHead head = complete.head();
    assertThat(complete.headLength()).isEqualTo(raw.length());
    assertThat(head.method()).isEqualTo(method);
    assertThat(head.path()).isEqualTo(path);
    assertThat(head.query()).isEqualTo(Optional.ofNullable(query));
    assertThat(head.version()).isEqualTo(version);
    assertThat(head.host()).isEqualTo(Optional.ofNullable(host));
    assertThat(raw).contains(" " + head.target() + " ");
  }

  @Test
  void keepsHeadersInOrderAndLooksThemUpIgnoringCase() {
    RequestHead head =
        complete(
                parseAll(
                    "GET / HTTP/1.1\r\nHost: h\r\nX-Tag: one\r\nAccept: */*\r\nx-tag: two\r\n\r\n"))
            .head();

    assertThat(head.headers().asList())
        .extracting(HeaderFields.Field::name)
        .containsExactly("Host", "X-Tag", "Accept", "x-tag");
    assertThat(head.headers().all("X-TAG")).containsExactly("one", "two");
    assertThat(head.headers().first("accept")).contains("*/*");
    assertThat(head.headers().contains("missing")).isFalse();
  }

  @Test
  void trimsValueWhitespaceButKeepsInnerSpaces() {
    RequestHead head =
        complete(parseAll("GET / HTTP/1.1\r\nHost: h\r\nX-A: \t a  b \t\r\n\r\n")).head();

    assertThat(head.headers().first("x-a")).contains("a  b");
  }

  @Test
  void leavesBodyAndPipelinedRequestsInTheBuffer() {
    String head = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
    String rest = "hello" + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    ByteBuffer buffer = bytes(head + rest);

    Complete complete = complete(new HttpHeadParser().offer(buffer));

    assertThat(complete.headLength()).isEqualTo(head.length());
    assertThat(buffer.position()).isEqualTo(head.length());
    assertThat(StandardCharsets.ISO_8859_1.decode(buffer).toString()).isEqualTo(rest);
  }

  @Test
  void headLengthCountsAcrossChunks() {
    String head = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    HttpHeadParser parser = new HttpHeadParser();

    assertThat(parser.offer(bytes("GET /a HTT"))).isInstanceOf(NeedMore.class);
    ByteBuffer second = bytes("P/1.1\r\nHost: h\r\n\r\nBODY");
    Complete complete = complete(parser.offer(second));

    assertThat(complete.headLength()).isEqualTo(head.length());
    assertThat(second.remaining()).isEqualTo("BODY".length());
  }

  @Test
  void incompleteHeadNeedsMore() {
    assertThat(parseAll("GET / HTTP/1.1\r\nHost: h\r\n")).isInstanceOf(NeedMore.class);
    assertThat(parseAll("GET / HTTP/1.1\r\nHost: h\r\n\r")).isInstanceOf(NeedMore.class);
    assertThat(parseAll("")).isInstanceOf(NeedMore.class);
  }

  // ---------------------------------------------------------------- keep-alive

  @ParameterizedTest(name = "{0} Connection: {1} -> {2}")
  @CsvSource(
      nullValues = "none",
      value = {
        "HTTP/1.1, none, true",
        "HTTP/1.1, close, false",
        "HTTP/1.1, 'Upgrade, Close', false",
        "HTTP/1.1, keep-alive, true",
        "HTTP/1.0, none, false",
        "HTTP/1.0, Keep-Alive, true",
        "HTTP/1.0, 'keep-alive, close', false"
      })
  void keepAliveFollowsVersionAndConnectionHeader(
      String version, String connection, boolean keepAlive) {
    String raw =
        "GET / "
            + version
            + CRLF
            + "Host: h"
            + CRLF
            + (connection == null ? "" : "Connection: " + connection + CRLF)
            + CRLF;

    assertThat(complete(parseAll(raw)).head().keepAlive()).isEqualTo(keepAlive);
  }

  // ---------------------------------------------------------------- malformed heads

  static Stream<Arguments> malformedHeads() {
    return Stream.of(
        Arguments.of(
            "HTTP/2 preface",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "unsupported HTTP version HTTP/2.0"),
        Arguments.of(
            "HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", "unsupported HTTP version HTTP/1.2"),
        Arguments.of("HTTP/0.9 line", "GET /\r\n\r\n", "malformed request line"),
        Arguments.of(
            "lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", "malformed HTTP version"),
        Arguments.of(
            "version with junk", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", "malformed HTTP version"),
        Arguments.of("two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", "malformed request line"),
        Arguments.of("no target", "GET  HTTP/1.1\r\nHost: h\r\n\r\n", "empty request target"),
        Arguments.of(
            "trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", "malformed request line"),
        Arguments.of(
            "space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", "malformed request line"),
        Arguments.of(
            "leading space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", "malformed request line"),
        Arguments.of("no method", " / HTTP/1.1\r\nHost: h\r\n\r\n", "empty method"),
        Arguments.of(
            "tab separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", "malformed request line"),
        Arguments.of(
            "method with slash",
            "GE/T / HTTP/1.1\r\nHost: h\r\n\r\n",
            "invalid character in method"),
        Arguments.of(
            "non-ASCII in target",
            "GET /\u00e9 HTTP/1.1\r\nHost: h\r\n\r\n",
            "invalid character in request target"),
        Arguments.of(
            "fragment in target",
            "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n",
            "invalid character in request target"),
        Arguments.of(
            "relative target",
            "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n",
            "request target must start with / or http(s)://"),
        Arguments.of(
            "asterisk with GET",
            "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
            "asterisk-form target is only allowed with OPTIONS"),
        Arguments.of(
            "CONNECT",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "CONNECT (authority-form target) is not supported"),
        Arguments.of(
            "ftp scheme", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", "unsupported scheme"),
        Arguments.of(
            "userinfo",
            "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "userinfo in absolute-form target"),
        Arguments.of(
            "empty authority", "GET http:///a HTTP/1.1\r\nHost: h\r\n\r\n", "invalid authority"),
        Arguments.of("bare LF in request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", "bare LF"),
        Arguments.of("bare LF at end", "GET / HTTP/1.1\r\nHost: h\r\n\n", "bare LF"),
        Arguments.of("bare CR", "GET / HTTP/1.1\rHost: h\r\n\r\n", "CR not followed by LF"),
        Arguments.of(
            "NUL in value",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\u0000b\r\n\r\n",
            "control character 0x00"),
        Arguments.of(
            "DEL in value",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\u007fb\r\n\r\n",
            "control character 0x7f"),
        Arguments.of(
            "TLS on HTTP port", "\u0016\u0003\u0001\u0002\u0000\u0001", "control character 0x16"),
        Arguments.of(
            "obs-fold",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n",
            "obsolete line folding"),
        Arguments.of(
            "whitespace line after request line",
            "GET / HTTP/1.1\r\n \r\nHost: h\r\n\r\n",
            "obsolete line folding"),
        Arguments.of(
            "space before colon",
            "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            "invalid character in header name"),
        Arguments.of(
            "bad name char",
            "GET / HTTP/1.1\r\nHost: h\r\nX(a): 1\r\n\r\n",
            "invalid character in header name"),
        Arguments.of(
            "no colon", "GET / HTTP/1.1\r\nHost: h\r\nJunk\r\n\r\n", "header line without colon"),
        Arguments.of("empty name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", "empty header name"),
        Arguments.of(
            "duplicate Host",
            "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            "duplicate Host header"),
        Arguments.of(
            "duplicate Host in 1.0",
            "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
            "duplicate Host header"),
        Arguments.of(
            "missing Host in 1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "missing Host header"),
        Arguments.of(
            "missing Host, absolute-form", "GET http://h/ HTTP/1.1\r\n\r\n", "missing Host header"),
        Arguments.of("invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "invalid Host header"),
        Arguments.of(
            "Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "invalid Host header"),
        Arguments.of(
            "Host with bad port", "GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", "invalid Host header"),
        Arguments.of(
            "Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", "invalid Host header"),
        Arguments.of(
            "CL and TE",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Content-Length and Transfer-Encoding"),
        Arguments.of(
            "TE and CL",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "both Content-Length and Transfer-Encoding"),
        Arguments.of(
            "negative CL",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
            "invalid Content-Length"),
        Arguments.of(
            "CL list",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
            "invalid Content-Length"),
        Arguments.of(
            "CL hex",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
            "invalid Content-Length"),
        Arguments.of(
            "CL empty",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
            "invalid Content-Length"),
        Arguments.of(
            "CL 19 digits",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000000000000\r\n\r\n",
            "invalid Content-Length"),
        Arguments.of(
            "two CL",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "duplicate Content-Length"),
        Arguments.of(
            "TE not chunked last",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "Transfer-Encoding does not end in chunked"),
        Arguments.of(
            "TE empty",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n",
            "Transfer-Encoding does not end in chunked"),
        Arguments.of(
            "TE in 1.0",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "Transfer-Encoding in an HTTP/1.0 request"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedHeads")
  void refusesMalformedHead(String name, String raw, String reason) {
    assertThat(parseAll(raw))
        .isInstanceOfSatisfying(Malformed.class, m -> assertThat(m.reason()).contains(reason));
  }

  @Test
  void reportsControlCharacterBeforeTheLineEnds() {
    ByteBuffer buffer = bytes("\u0016\u0003\u0001 more bytes that never end");

    assertThat(new HttpHeadParser().offer(buffer)).isInstanceOf(Malformed.class);
    assertThat(buffer.position()).isEqualTo(1);
  }

  // ---------------------------------------------------------------- limits

  @Test
  void headOfExactlyTheLimitCompletes() {
    String raw = headOfLength(200);

    assertThat(new HttpHeadParser(200).offer(bytes(raw))).isInstanceOf(Complete.class);
    assertThat(new HttpHeadParser(199).offer(bytes(raw))).isEqualTo(new TooLarge(199));
  }

  @ParameterizedTest(name = "limit {0}")
  @CsvSource({"64", "100", "1024"})
  void limitIsExactInEverySplit(int limit) {
    for (String raw : new String[] {headOfLength(limit), headOfLength(limit + 1)}) {
      Result expected = raw.length() <= limit ? complete(parseAll(raw)) : new TooLarge(limit);
      for (int chunk : new int[] {1, 3, 17, raw.length()}) {
        assertThat(feed(new HttpHeadParser(limit), raw, chunk))
            .as("length %d in chunks of %d", raw.length(), chunk)
            .isEqualTo(expected);
      }
    }
  }

  @Test
  void endlessHeadIsTooLargeOnceItPassesTheLimit() {
    HttpHeadParser parser = new HttpHeadParser(100);
    String line = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + "a".repeat(100 - 35);

    assertThat(parser.offer(bytes(line))).isInstanceOf(NeedMore.class);
    ByteBuffer more = bytes("aaaaaaaaaa");
    assertThat(parser.offer(more)).isEqualTo(new TooLarge(100));
  }

  @Test
  void bodyBytesAfterTheHeadDoNotCountTowardTheLimit() {
    String raw = headOfLength(100);
    ByteBuffer buffer = bytes(raw + "x".repeat(10_000));

    assertThat(new HttpHeadParser(100).offer(buffer)).isInstanceOf(Complete.class);
    assertThat(buffer.remaining()).isEqualTo(10_000);
  }

  @Test
  void refusesSillyLimit() {
    assertThatThrownBy(() -> new HttpHeadParser(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new HttpHeadParser(1024, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** A head with Host plus {@code extra} fields: {@code extra + 1} header fields in all. */
  private static String headWithFields(int extra) {
    StringBuilder raw = new StringBuilder("GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < extra; i++) raw.append("X-F").append(i).append(": v\r\n");
    return raw.append("\r\n").toString();
  }

  @Test
  void headerCountOfExactlyTheLimitCompletesOneMoreIsTooMany() {
    String atLimit = headWithFields(9);
    String overLimit = headWithFields(10);

    for (int chunk : new int[] {1, 5, 1000}) {
      Result ok = feed(new HttpHeadParser(16_384, 10), atLimit, chunk);
      assertThat(ok).isInstanceOf(Complete.class);
      assertThat(((Complete) ok).head().headers().size()).isEqualTo(10);
      assertThat(feed(new HttpHeadParser(16_384, 10), overLimit, chunk))
          .as("chunks of %d", chunk)
          .isEqualTo(new TooManyFields(10));
    }
  }

  @Test
  void tooManyFieldsIsReportedAsSoonAsTheFieldOverTheLimitEnds() {
    HttpHeadParser parser = new HttpHeadParser(16_384, 2);
    String twoFields = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n";

    assertThat(parser.offer(bytes(twoFields))).isInstanceOf(NeedMore.class);
    ByteBuffer third = bytes("B: 2\r\nC: 3\r\n");
    assertThat(parser.offer(third)).isEqualTo(new TooManyFields(2));
    assertThat(third.remaining()).as("stops right after the third field").isEqualTo(6);
  }

  @Test
  void theDefaultHeaderCountIsAHundred() {
    assertThat(new HttpHeadParser().maxHeaderCount()).isEqualTo(100);
    assertThat(new HttpHeadParser().offer(bytes(headWithFields(99)))).isInstanceOf(Complete.class);
    assertThat(new HttpHeadParser().offer(bytes(headWithFields(100))))
        .isEqualTo(new TooManyFields(100));
  }

  @Test
  void theByteLimitStillAppliesWithFewFields() {
    String raw = "GET / HTTP/1.1\r\nHost: h\r\nX: " + "a".repeat(2000) + "\r\n\r\n";
    assertThat(new HttpHeadParser(1024, 100).offer(bytes(raw))).isEqualTo(new TooLarge(1024));
  }

  // ---------------------------------------------------------------- chunking

  static Stream<Arguments> allHeads() {
    return Stream.concat(validHeads(), malformedHeads())
        .map(a -> Arguments.of(a.get()[0], a.get()[1]));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("allHeads")
  void byteByByteGivesTheSameResultAsOneChunk(String name, String raw) {
    Result whole = parseAll(raw);

    for (int chunk = 1; chunk <= 7; chunk++) {
      assertThat(feed(new HttpHeadParser(), raw, chunk)).as("chunks of %d", chunk).isEqualTo(whole);
    }
  }

  @Test
  void everySplitPointGivesTheSameResult() {
    String raw =
        "POST http://Api.Example.com/v1/items?id=7 HTTP/1.1\r\nHost: api.example.com\r\n"
            + "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}";
    Result whole = parseAll(raw);
    byte[] all = raw.getBytes(StandardCharsets.ISO_8859_1);

    for (int split = 0; split <= all.length; split++) {
      HttpHeadParser parser = new HttpHeadParser();
      Result first = parser.offer(Arrays.copyOfRange(all, 0, split));
      Result result =
          first instanceof NeedMore
              ? parser.offer(Arrays.copyOfRange(all, split, all.length))
              : first;
      assertThat(result).as("split at %d", split).isEqualTo(whole);
    }
  }

  @Test
  void refusesOffersAfterTheResult() {
    HttpHeadParser parser = new HttpHeadParser();
    parser.offer(bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));

    assertThatThrownBy(() -> parser.offer(bytes("more"))).isInstanceOf(IllegalStateException.class);
  }

  // ---------------------------------------------------------------- helpers

  /** A valid head of exactly {@code length} bytes, padded with an X-Pad header. */
  static String headOfLength(int length) {
    String prefix = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    String suffix = "\r\n\r\n";
    int pad = length - prefix.length() - suffix.length();
    if (pad < 0) throw new IllegalArgumentException("too short: " + length);
    return prefix + "p".repeat(pad) + suffix;
  }

  private static Result parseAll(String raw) {
    return new HttpHeadParser().offer(bytes(raw));
  }

  private static Result feed(HttpHeadParser parser, String raw, int chunkSize) {
    byte[] all = raw.getBytes(StandardCharsets.ISO_8859_1);
    Result result = new NeedMore();
    for (int at = 0; at < all.length && result instanceof NeedMore; at += chunkSize) {
      result = parser.offer(Arrays.copyOfRange(all, at, Math.min(all.length, at + chunkSize)));
    }
    return result;
  }

  private static Complete complete(Result result) {
    assertThat(result).isInstanceOf(Complete.class);
    return (Complete) result;
  }

  private static ByteBuffer bytes(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1));
  }
}
