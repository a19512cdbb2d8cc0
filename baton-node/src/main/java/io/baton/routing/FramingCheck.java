package io.baton.routing;

import java.util.List;

/**
 * Refuses request heads whose body framing is ambiguous (RFC 9112 §6), the classic way to smuggle a
 * second request past a front end: two Content-Lengths, an invalid one, Content-Length together
 * with Transfer-Encoding, Transfer-Encoding in HTTP/1.0, or codings that do not end in chunked.
 *
 * <p>Stateless; thread-safe.
 */
final class FramingCheck {
  /** Up to 18 digits always fits a {@code long}. */
  static final int MAX_CONTENT_LENGTH_DIGITS = 18;

  private FramingCheck() {}

  static void check(HeaderFields headers, String version) throws MalformedHeadException {
    List<String> lengths = headers.all("Content-Length");
    boolean chunkedOrOther = headers.contains("Transfer-Encoding");
    if (lengths.size() > 1) throw new MalformedHeadException("duplicate Content-Length");
    if (!lengths.isEmpty()) checkContentLength(lengths.getFirst());
    if (!chunkedOrOther) return;
    if (!lengths.isEmpty()) {
      throw new MalformedHeadException(
          "both Content-Length and Transfer-Encoding (possible request smuggling)");
    }
    if (version.equals(RequestHead.HTTP_1_0)) {
      throw new MalformedHeadException("Transfer-Encoding in an HTTP/1.0 request");
    }
    List<String> codings = headers.tokens("Transfer-Encoding");
    if (codings.isEmpty() || !codings.getLast().equals("chunked")) {
      throw new MalformedHeadException("Transfer-Encoding does not end in chunked");
    }
  }

  private static void checkContentLength(String value) throws MalformedHeadException {
    if (value.isEmpty() || value.length() > MAX_CONTENT_LENGTH_DIGITS) {
      throw new MalformedHeadException("invalid Content-Length");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < '0' || c > '9') throw new MalformedHeadException("invalid Content-Length");
    }
  }
}
