package io.baton.routing;

import io.baton.routing.HeaderFields.Field;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Reads the head of a client's first HTTP/1.x request from bytes as they arrive, so the dispatcher
 * can route on it before handing the connection off.
 *
 * <p>Feed every chunk to {@link #offer(ByteBuffer)} until the result is not {@link NeedMore}. The
 * parser consumes only head bytes: on {@link Complete} the buffer's position is at the first byte
 * after the blank line (a body or a pipelined request), which stays for the server. Feeding the
 * same bytes in any split gives the same result.
 *
 * <p>Strict by design, because the server will read these bytes again and must not see a different
 * request than the one Baton routed:
 *
 * <ul>
 *   <li>lines end in CRLF; a bare LF or a bare CR is malformed (RFC 9112 §2.2 allows accepting bare
 *       LF, but a server that does not would read different headers than we routed on);
 *   <li>control characters other than HTAB are malformed anywhere;
 *   <li>empty lines before the request line are skipped (RFC 9112 §2.2), and count toward the
 *       limit;
 *   <li>only HTTP/1.0 and HTTP/1.1; methods and field names are tokens; no whitespace before a
 *       field's colon; obsolete line folding is malformed;
 *   <li>HTTP/1.1 needs exactly one Host header; HTTP/1.0 may have none, never two;
 *   <li>framing: one Content-Length of 1..18 digits; Transfer-Encoding only in HTTP/1.1, ending in
 *       {@code chunked}, never together with Content-Length (request smuggling).
 * </ul>
 *
 * <p>The limit counts the head's bytes including the final CRLFCRLF: a head of exactly {@code
 * maxHeadBytes} completes, one byte more is {@link TooLarge}. Independently, a head with more than
 * {@code maxHeaderCount} header fields is {@link TooManyFields} as soon as the field one over the
 * limit ends: many tiny fields cost the server more than their bytes suggest.
 *
 * <p>Not thread-safe: one instance per connection, confined to that connection's event loop.
 */
public final class HttpHeadParser {
  /** Default limit on the head size, like common servers' 16 KiB. */
  public static final int DEFAULT_MAX_HEAD_BYTES = 16 * 1024;

  /** Default limit on the number of header fields, Apache httpd's LimitRequestFields. */
  public static final int DEFAULT_MAX_HEADER_COUNT = 100;

  /** Outcome of {@link #offer}: keep reading, or one of three final answers. */
  public sealed interface Result permits NeedMore, Complete, Malformed, TooLarge, TooManyFields {}

  /** The head is not complete yet; offer the next chunk. */
  public record NeedMore() implements Result {}

  /**
   * The head is complete.
   *
   * @param headLength bytes from the start of the stream up to and including the CRLFCRLF
   */
  public record Complete(RequestHead head, int headLength) implements Result {}

  /** Not a valid HTTP/1.x request head; the dispatcher answers 400 with a short reason. */
  public record Malformed(String reason) implements Result {}

  /** The head exceeds {@code limit} bytes; the dispatcher answers 431. */
  public record TooLarge(int limit) implements Result {}

  /** The head has more than {@code limit} header fields; the dispatcher answers 431. */
  public record TooManyFields(int limit) implements Result {}

  private static final NeedMore NEED_MORE = new NeedMore();

  private final int maxHeadBytes;
  private final int maxHeaderCount;
  private boolean tooManyFields;
  private byte[] line = new byte[256];
  private int lineLength;
  private boolean afterCr;
  private int headBytes;
  private RequestLine requestLine;
  private final List<Field> fields = new ArrayList<>();
  private Result outcome;

  public HttpHeadParser() {
    this(DEFAULT_MAX_HEAD_BYTES);
  }

  public HttpHeadParser(int maxHeadBytes) {
    this(maxHeadBytes, DEFAULT_MAX_HEADER_COUNT);
  }

  public HttpHeadParser(int maxHeadBytes, int maxHeaderCount) {
    if (maxHeadBytes < 16) {
      throw new IllegalArgumentException("maxHeadBytes must be at least 16, got " + maxHeadBytes);
    }
    if (maxHeaderCount < 1) {
      throw new IllegalArgumentException(
          "maxHeaderCount must be at least 1, got " + maxHeaderCount);
    }
    this.maxHeadBytes = maxHeadBytes;
    this.maxHeaderCount = maxHeaderCount;
  }

  public int maxHeadBytes() {
    return maxHeadBytes;
  }

  public int maxHeaderCount() {
    return maxHeaderCount;
  }

  /**
   * Reads head bytes from {@code chunk}, advancing its position past the bytes it used.
   *
   * @throws IllegalStateException if an earlier call already returned a final result
   */
  public Result offer(ByteBuffer chunk) {
    if (outcome != null) throw new IllegalStateException("head already parsed: " + outcome);
    while (chunk.hasRemaining()) {
      byte b = chunk.get();
      if (++headBytes > maxHeadBytes) return finish(new TooLarge(maxHeadBytes));
      try {
        if (accept(b)) return finish(new Complete(buildHead(), headBytes));
        if (tooManyFields) return finish(new TooManyFields(maxHeaderCount));
      } catch (MalformedHeadException e) {
        return finish(new Malformed(e.getMessage()));
      }
    }
    return NEED_MORE;
  }

  /** Same as {@link #offer(ByteBuffer)} on the whole array. */
  public Result offer(byte[] chunk) {
    return offer(ByteBuffer.wrap(chunk));
  }

  private Result finish(Result result) {
    outcome = result;
    line = null;
    return result;
  }

  /** Takes one byte; true when it completed the head. */
  private boolean accept(byte b) throws MalformedHeadException {
    if (afterCr) {
      afterCr = false;
      if (b != '\n') throw new MalformedHeadException("CR not followed by LF");
      return endOfLine();
    }
    if (b == '\r') {
      afterCr = true;
    } else if (b == '\n') {
      throw new MalformedHeadException("bare LF line ending (lines must end in CRLF)");
    } else if (HttpSyntax.isForbiddenControl(b)) {
      throw new MalformedHeadException(String.format("control character 0x%02x", b));
    } else {
      if (lineLength == line.length) line = Arrays.copyOf(line, line.length * 2);
      line[lineLength++] = b;
    }
    return false;
  }

  private boolean endOfLine() throws MalformedHeadException {
    int length = lineLength;
    lineLength = 0;
    if (requestLine == null) {
      if (length > 0) requestLine = RequestLine.parse(line, length);
      return false;
    }
    if (length == 0) return true;
    if (line[0] == ' ' || line[0] == '\t') {
      throw new MalformedHeadException(
          "obsolete line folding (header line starts with whitespace)");
    }
    fields.add(parseField(length));
    tooManyFields = fields.size() > maxHeaderCount;
    return false;
  }

  private Field parseField(int length) throws MalformedHeadException {
    int colon = 0;
    while (colon < length && line[colon] != ':') {
      if (!HttpSyntax.isTokenChar(line[colon])) {
        throw new MalformedHeadException("invalid character in header name");
      }
      colon++;
    }
    if (colon == length) throw new MalformedHeadException("header line without colon");
    if (colon == 0) throw new MalformedHeadException("empty header name");
    int start = colon + 1;
    int end = length;
    while (start < end && (line[start] == ' ' || line[start] == '\t')) start++;
    while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t')) end--;
    return new Field(
        new String(line, 0, colon, StandardCharsets.ISO_8859_1),
        new String(line, start, end - start, StandardCharsets.ISO_8859_1));
  }

  private RequestHead buildHead() throws MalformedHeadException {
    HeaderFields headers = HeaderFields.of(fields);
    String version = requestLine.version();
    Optional<String> host = host(headers, version);
    FramingCheck.check(headers, version);
    return new RequestHead(
        requestLine.method(),
        requestLine.target(),
        requestLine.path(),
        requestLine.query(),
        version,
        host,
        headers);
  }

  private Optional<String> host(HeaderFields headers, String version)
      throws MalformedHeadException {
    List<String> hosts = headers.all("Host");
    if (hosts.size() > 1) throw new MalformedHeadException("duplicate Host header");
    if (hosts.isEmpty() && version.equals(RequestHead.HTTP_1_1)) {
      throw new MalformedHeadException("missing Host header (required in HTTP/1.1)");
    }
    String fromHeader = hosts.isEmpty() ? "" : HostSyntax.hostOfAuthority(hosts.getFirst());
    if (fromHeader == null) throw new MalformedHeadException("invalid Host header");
    if (requestLine.authorityHost().isPresent()) return requestLine.authorityHost();
    return fromHeader.isEmpty() ? Optional.empty() : Optional.of(fromHeader);
  }
}
