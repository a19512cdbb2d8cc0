package io.baton.routing;

import static io.baton.routing.TlsBytes.ascii;
import static io.baton.routing.TlsBytes.bytes;
import static io.baton.routing.TlsBytes.concat;
import static io.baton.routing.TlsBytes.extension;
import static io.baton.routing.TlsBytes.handshake;
import static io.baton.routing.TlsBytes.hello;
import static io.baton.routing.TlsBytes.helloBody;
import static io.baton.routing.TlsBytes.record;
import static io.baton.routing.TlsBytes.serverName;
import static io.baton.routing.TlsBytes.sniExtension;
import static io.baton.routing.TlsBytes.u16;
import static io.baton.routing.TlsBytes.u24;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.routing.ClientHelloParser.Complete;
import io.baton.routing.ClientHelloParser.NeedMore;
import io.baton.routing.ClientHelloParser.NotTls;
import io.baton.routing.ClientHelloParser.Result;
import io.baton.routing.ClientHelloParser.TooLarge;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Tests for {@link ClientHelloParser}, on the JDK client's real hellos and hand-made ones. */
class ClientHelloParserTest {
  private static final byte[] JDK_HELLO = TlsBytes.jdkClientHello(Optional.of("Api.Example.COM"));

  // ---------------------------------------------------------------- real hellos

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(
      nullValues = "none",
      value = {
        "api.example.com, none",
        "Shop.Example.com, none",
        "a-b.example, none",
        "api.example.com, TLSv1.2",
        "api.example.com, TLSv1.3",
        "none, none",
        "none, TLSv1.2"
      })
  void readsServerNameOfJdkHello(String name, String protocol) {
    byte[] hello =
        protocol == null
            ? TlsBytes.jdkClientHello(Optional.ofNullable(name))
            : TlsBytes.jdkClientHello(Optional.ofNullable(name), protocol);

    assertThat(parse(hello))
        .isEqualTo(
            new Complete(
                Optional.ofNullable(name).map(n -> n.toLowerCase(java.util.Locale.ROOT)),
                hello.length));
  }

  @Test
  void everySplitPointGivesTheSameResult() {
    Complete expected = new Complete(Optional.of("api.example.com"), JDK_HELLO.length);

    for (int split = 0; split < JDK_HELLO.length; split++) {
      ClientHelloParser parser = new ClientHelloParser();
      assertThat(parser.offer(Arrays.copyOfRange(JDK_HELLO, 0, split)))
          .as("first %d bytes", split)
          .isInstanceOf(NeedMore.class);
      assertThat(parser.offer(Arrays.copyOfRange(JDK_HELLO, split, JDK_HELLO.length)))
          .as("rest after %d", split)
          .isEqualTo(expected);
    }
  }

  @Test
  void byteByByteGivesTheSameResult() {
    assertThat(feed(new ClientHelloParser(), JDK_HELLO, 1))
        .isEqualTo(new Complete(Optional.of("api.example.com"), JDK_HELLO.length));
  }

  @ParameterizedTest(name = "records of {0} bytes")
  @CsvSource({"1", "2", "3", "4", "5", "37", "100", "512"})
  void reassemblesHelloSpreadOverRecords(int recordSize) {
    byte[] records = TlsBytes.refragment(JDK_HELLO, recordSize);

    for (int chunk : new int[] {1, 6, 1000, records.length}) {
      assertThat(feed(new ClientHelloParser(64 * 1024), records, chunk))
          .as("chunks of %d", chunk)
          .isEqualTo(new Complete(Optional.of("api.example.com"), records.length));
    }
  }

  @Test
  void leavesBytesAfterTheHelloInTheBuffer() {
    byte[] changeCipherSpec = record(20, bytes(1));
    ByteBuffer buffer = ByteBuffer.wrap(concat(JDK_HELLO, changeCipherSpec));

    assertThat(new ClientHelloParser().offer(buffer)).isInstanceOf(Complete.class);
    assertThat(buffer.position()).isEqualTo(JDK_HELLO.length);
    assertThat(buffer.remaining()).isEqualTo(changeCipherSpec.length);
  }

  @Test
  void truncatedHelloNeedsMore() {
    assertThat(parse(Arrays.copyOf(JDK_HELLO, JDK_HELLO.length - 1))).isInstanceOf(NeedMore.class);
    assertThat(parse(new byte[0])).isInstanceOf(NeedMore.class);
  }

  // ---------------------------------------------------------------- hand-made hellos

  static Stream<Arguments> handMadeValid() {
    return Stream.of(
        Arguments.of("no extensions block", hello(null), null),
        Arguments.of("empty extensions", hello(new byte[0]), null),
        Arguments.of(
            "other extensions only",
            hello(concat(extension(10, bytes(0, 2, 0, 29)), extension(43, bytes(2, 3, 4)))),
            null),
        Arguments.of(
            "sni between others",
            hello(
                concat(
                    extension(10, bytes(0, 2, 0, 29)),
                    sniExtension("WWW.Example.org"),
                    extension(16, bytes(0, 3, 2, 'h', '2')))),
            "www.example.org"),
        Arguments.of(
            "unknown name type skipped",
            hello(
                extension(
                    0,
                    concat(
                        u16(3 + 2 + 3 + 4),
                        serverName(7, ascii("xyz")),
                        serverName(0, ascii("a.b"))))),
            "a.b"),
        Arguments.of(
            "63-char label",
            hello(sniExtension("a".repeat(63) + ".example")),
            "a".repeat(63) + ".example"),
        Arguments.of("single label", hello(sniExtension("localhost")), "localhost"),
        Arguments.of("underscore", hello(sniExtension("a_b.example")), "a_b.example"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("handMadeValid")
  void readsHandMadeHello(String name, byte[] hello, String sni) {
    assertThat(parse(hello)).isEqualTo(new Complete(Optional.ofNullable(sni), hello.length));
  }

  static Stream<Arguments> notTls() {
    byte[] body = helloBody(sniExtension("a.example"));
    return Stream.of(
        Arguments.of("plain HTTP", ascii("GET / HTTP/1.1\r\n"), "plaintext"),
        Arguments.of(
            "application data first",
            record(23, bytes(1, 2, 3)),
            "first record is not a handshake (type 23)"),
        Arguments.of("SSLv2 hello", bytes(0x80, 0x2e, 0x01, 0x03, 0x01), "SSLv2"),
        Arguments.of("record version 2.0", bytes(22, 2, 0, 0, 5), "record version is not TLS"),
        Arguments.of("record version 3.9", bytes(22, 3, 9, 0, 5), "unknown TLS record version"),
        Arguments.of("empty record", bytes(22, 3, 1, 0, 0), "empty handshake record"),
        Arguments.of(
            "record over 2^14", bytes(22, 3, 1, 0x40, 0x01), "record longer than 2^14 bytes"),
        Arguments.of("ServerHello", record(22, handshake(2, body)), "not a ClientHello (type 2)"),
        Arguments.of(
            "empty ClientHello", record(22, handshake(1, new byte[0])), "empty ClientHello"),
        Arguments.of(
            "record runs past hello",
            record(22, concat(handshake(1, body), bytes(0))),
            "record continues after the ClientHello"),
        Arguments.of(
            "handshake length shorter than its record",
            record(22, concat(bytes(1), u24(3), body)),
            "record continues after the ClientHello"),
        Arguments.of(
            "alert inside the hello",
            concat(record(22, Arrays.copyOf(handshake(1, body), 10)), record(21, bytes(2, 40))),
            "record of type 21 inside the ClientHello"),
        Arguments.of(
            "hello version 2",
            record(22, handshake(1, concat(bytes(2, 0), Arrays.copyOfRange(body, 2, body.length)))),
            "ClientHello version is not TLS"),
        Arguments.of(
            "body truncated",
            record(22, handshake(1, Arrays.copyOf(body, 20))),
            "ClientHello truncated"),
        Arguments.of(
            "session id 33 bytes",
            record(
                22,
                handshake(
                    1,
                    concat(
                        bytes(3, 3),
                        new byte[32],
                        bytes(33),
                        new byte[33],
                        u16(2),
                        bytes(0, 0x2f),
                        bytes(1, 0)))),
            "session id longer than 32 bytes"),
        Arguments.of(
            "odd cipher suites",
            record(
                22,
                handshake(
                    1,
                    concat(
                        bytes(3, 3),
                        new byte[32],
                        bytes(0),
                        u16(3),
                        bytes(0, 0x2f, 0),
                        bytes(1, 0)))),
            "invalid cipher suites length"),
        Arguments.of(
            "no compression",
            record(
                22,
                handshake(
                    1,
                    concat(bytes(3, 3), new byte[32], bytes(0), u16(2), bytes(0, 0x2f), bytes(0)))),
            "no compression methods"),
        Arguments.of(
            "extensions length too long",
            record(22, handshake(1, withExtensionsLength(body, +1))),
            "extensions length runs past ClientHello"),
        Arguments.of(
            "extensions length too short",
            record(22, handshake(1, withExtensionsLength(body, -1))),
            "bytes after the extensions"),
        Arguments.of(
            "extension length too long",
            hello(concat(u16(10), u16(5), bytes(1, 2))),
            "extension 10 length runs past"),
        Arguments.of("extension header cut", hello(bytes(0, 10, 0)), "extensions truncated"),
        Arguments.of(
            "repeated extension",
            hello(concat(extension(10, bytes(0)), extension(10, bytes(0)))),
            "extension 10 repeated"),
        Arguments.of(
            "two sni extensions",
            hello(concat(sniExtension("a.b"), sniExtension("c.d"))),
            "extension 0 repeated"),
        Arguments.of(
            "sni list too long",
            hello(extension(0, concat(u16(7), serverName(0, ascii("a.b"))))),
            "server name list length runs past extension 0"),
        Arguments.of(
            "sni list too short",
            hello(extension(0, concat(u16(5), serverName(0, ascii("a.b"))))),
            "bytes after the server name list"),
        Arguments.of(
            "sni name too long",
            hello(extension(0, concat(u16(6), bytes(0), u16(4), ascii("a.b")))),
            "server name length runs past server name list"),
        Arguments.of("empty sni list", hello(extension(0, u16(0))), "empty server name list"),
        Arguments.of(
            "empty host name",
            hello(extension(0, concat(u16(3), bytes(0, 0, 0)))),
            "empty server name"),
        Arguments.of(
            "two host names", hello(sniExtension("a.b", "c.d")), "more than one host_name"),
        Arguments.of(
            "only other name types",
            hello(extension(0, concat(u16(6), serverName(1, ascii("xyz"))))),
            "server name list without host_name"),
        Arguments.of("space in name", hello(sniExtension("a b.example")), "invalid SNI host name"),
        Arguments.of("slash in name", hello(sniExtension("a/b.example")), "invalid SNI host name"),
        Arguments.of(
            "NUL in name", hello(sniExtension("a\u0000.example")), "invalid SNI host name"),
        Arguments.of(
            "non-ASCII name", hello(sniExtension("\u00e9.example")), "invalid SNI host name"),
        Arguments.of("trailing dot", hello(sniExtension("a.example.")), "invalid SNI host name"),
        Arguments.of("empty label", hello(sniExtension("a..example")), "invalid SNI host name"),
        Arguments.of("IP literal", hello(sniExtension("198.18.0.100")), "invalid SNI host name"),
        Arguments.of(
            "64-char label",
            hello(sniExtension("a".repeat(64) + ".example")),
            "invalid SNI host name"),
        Arguments.of("254-char name", hello(sniExtension(longName(254))), "invalid SNI host name"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("notTls")
  void refusesWhatIsNoValidClientHello(String name, byte[] input, String reason) {
    assertThat(parse(input))
        .isInstanceOfSatisfying(NotTls.class, r -> assertThat(r.reason()).contains(reason));
    assertThat(feed(new ClientHelloParser(), input, 1)).as("byte by byte").isEqualTo(parse(input));
  }

  @Test
  void acceptsTheLongestValidName() {
    String name = longName(253);

    assertThat(parse(hello(sniExtension(name))))
        .isInstanceOfSatisfying(Complete.class, c -> assertThat(c.sni()).contains(name));
  }

  @Test
  void refusesPlaintextAtTheFirstByte() {
    ByteBuffer buffer = ByteBuffer.wrap(ascii("GET / HTTP/1.1\r\n"));

    assertThat(new ClientHelloParser().offer(buffer)).isInstanceOf(NotTls.class);
    assertThat(buffer.position()).isEqualTo(1);
  }

  // ---------------------------------------------------------------- limits

  @Test
  void announcedLengthOverTheLimitIsTooLargeAtOnce() {
    byte[] start = concat(bytes(22, 3, 1), u16(16384), bytes(1), u24(20_000));

    assertThat(parse(start)).isEqualTo(new TooLarge(ClientHelloParser.DEFAULT_MAX_HELLO_BYTES));
  }

  @Test
  void limitCountsRecordHeadersToo() {
    byte[] tiny = TlsBytes.refragment(JDK_HELLO, 1);
    Complete complete = new Complete(Optional.of("api.example.com"), tiny.length);

    assertThat(feed(new ClientHelloParser(tiny.length), tiny, 7)).isEqualTo(complete);
    assertThat(feed(new ClientHelloParser(tiny.length - 1), tiny, 7))
        .isEqualTo(new TooLarge(tiny.length - 1));
  }

  @Test
  void refusesSillyLimitAndSecondUse() {
    assertThatThrownBy(() -> new ClientHelloParser(10))
        .isInstanceOf(IllegalArgumentException.class);
    ClientHelloParser parser = new ClientHelloParser();
    parser.offer(JDK_HELLO);
    assertThatThrownBy(() -> parser.offer(JDK_HELLO)).isInstanceOf(IllegalStateException.class);
  }

  // ---------------------------------------------------------------- helpers

  /** A dotted name of exactly {@code length} characters with 63-character labels at most. */
  private static String longName(int length) {
    StringBuilder name = new StringBuilder();
    while (name.length() < length) {
      if (!name.isEmpty()) name.append('.');
      name.append("x".repeat(Math.min(63, length - name.length())));
    }
    if (name.charAt(name.length() - 1) == '.') throw new IllegalStateException();
    return name.toString();
  }

  /** {@code body} with its extensions length changed by {@code delta}. */
  private static byte[] withExtensionsLength(byte[] body, int delta) {
    byte[] copy = body.clone();
    int at = 2 + 32 + 1 + 2 + 4 + 2; // version, random, session id, suites, compression
    int length = ((copy[at] & 0xff) << 8) + (copy[at + 1] & 0xff) + delta;
    copy[at] = (byte) (length >>> 8);
    copy[at + 1] = (byte) length;
    return copy;
  }

  private static Result parse(byte[] input) {
    return new ClientHelloParser().offer(input);
  }

  private static Result feed(ClientHelloParser parser, byte[] input, int chunkSize) {
    Result result = new NeedMore();
    for (int at = 0; at < input.length && result instanceof NeedMore; at += chunkSize) {
      result = parser.offer(Arrays.copyOfRange(input, at, Math.min(input.length, at + chunkSize)));
    }
    return result;
  }
}
