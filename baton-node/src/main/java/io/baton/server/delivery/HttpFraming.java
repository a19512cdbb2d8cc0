package io.baton.server.delivery;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * Where HTTP/1.x messages begin and end in one direction of a relayed connection, found from bytes
 * the relay only peeks at (so the relay still splices every byte, and a byte it has not taken stays
 * in the kernel). The relay's safe point for a live migration is a boundary in both directions with
 * every forwarded request answered ({@link SpliceRelay}).
 *
 * <p>The framing never holds bytes back for its own sake: {@link #pos} is how far the stream is
 * classified, and whatever it cannot follow (not HTTP/1.x, a head over {@link #MAX_HEAD_BYTES}, a
 * malformed length, a tunnel after CONNECT or 101, a body that ends with the connection) makes it
 * {@link #opaque}: everything flows from then on, and the connection can no longer move ({@link
 * #unmovable} says why). So can it not once either side said it will close.
 *
 * <p>The two directions of one connection share an {@link Exchanges}: the request side records each
 * request's kind, the response side needs it to frame the answer (HEAD, CONNECT).
 *
 * <p>Confined to the relay's event loop; pure logic.
 */
final class HttpFraming {
  /** The largest head (or chunk line) followed; a longer one makes the stream opaque. */
  static final int MAX_HEAD_BYTES = 64 * 1024;

  /** What each request forwarded so far asks for, oldest first, until its final answer. */
  static final class Exchanges {
    private final ArrayDeque<Kind> pending = new ArrayDeque<>();
    private long requests;
    private long answers;

    /** Requests whose head went by. */
    long requests() {
      return requests;
    }

    /** Final answers classified to their last byte. */
    long answers() {
      return answers;
    }
  }

  enum Kind {
    PLAIN,
    HEAD,
    CONNECT,
    UPGRADE
  }

  private enum State {
    HEAD,
    CHUNK_SIZE,
    CHUNK_END,
    TRAILERS,
    OPAQUE
  }

  private final boolean requests;
  private final Exchanges exchanges;
  private State state = State.HEAD;
  private long pos;
  private boolean finalAnswer; // the response being classified is final (counts when it ends)
  private String unmovable;

  private HttpFraming(boolean requests, Exchanges exchanges) {
    this.requests = requests;
    this.exchanges = exchanges;
  }

  static HttpFraming requests(Exchanges exchanges) {
    return new HttpFraming(true, exchanges);
  }

  static HttpFraming responses(Exchanges exchanges) {
    return new HttpFraming(false, exchanges);
  }

  /** How far (stream offset) the bytes are classified: everything before it may be forwarded. */
  long pos() {
    return pos;
  }

  boolean opaque() {
    return state == State.OPAQUE;
  }

  /** Between two messages: the next byte starts a head (or nothing has come yet). */
  boolean atBoundary() {
    return state == State.HEAD;
  }

  /** Why this connection can no longer move, or null. */
  String unmovable() {
    return unmovable;
  }

  /** Stops following: everything flows, and the connection stays where it is. */
  void giveUp(String why) {
    state = State.OPAQUE;
    if (unmovable == null) unmovable = why;
  }

  /**
   * Classifies what it can of {@code b[0, len)}, the stream's bytes from {@link #pos} on; stops at
   * the end of a message (so that a relay holding at a boundary never takes the next one), or where
   * it needs bytes beyond {@code len}. Returns whether {@link #pos} moved.
   */
  boolean feed(byte[] b, int len) {
    long start = pos;
    int off = 0;
    while (state != State.OPAQUE && off < len) {
      int lineEnd;
      switch (state) {
        case HEAD -> {
          if (b[off] == '\r' || b[off] == '\n') { // stray line ends between messages (RFC 9112 2.2)
            off++;
            pos++;
            continue;
          }
          if (!plausibleStart(b, off, len)) {
            // Decided from the first bytes, never by waiting for a blank line that a TLS hello or
            // a line protocol would not send before it hears back.
            giveUp(requests ? "not an HTTP/1.x request" : "not an HTTP/1.x response");
            return true;
          }
          int end = headEnd(b, off, len);
          if (end < 0) {
            if (len - off >= MAX_HEAD_BYTES)
              giveUp("a head longer than " + MAX_HEAD_BYTES + " bytes");
            return pos != start;
          }
          long body = head(b, off, end);
          pos += end - off;
          off = end;
          if (state == State.OPAQUE) return true;
          if (body > 0) {
            pos += body;
            ended();
            return true;
          }
          if (state == State.HEAD) {
            ended();
            return true;
          }
        }
        case CHUNK_SIZE -> {
          if ((lineEnd = lineEnd(b, off, len)) < 0) return needLine(start, len - off);
          long size = chunkSize(b, off, lineEnd);
          if (size < 0) {
            giveUp("a malformed chunk size");
            return true;
          }
          pos += lineEnd - off;
          off = lineEnd;
          if (size == 0) {
            state = State.TRAILERS;
          } else {
            pos += size;
            state = State.CHUNK_END;
            off += (int) Math.min(size, len - off);
            if (pos - start > off) return true; // the data goes on beyond the bytes seen
          }
        }
        case CHUNK_END -> {
          if ((lineEnd = lineEnd(b, off, len)) < 0) return needLine(start, len - off);
          if (!blank(b, off, lineEnd)) {
            giveUp("chunk data longer than its size");
            return true;
          }
          pos += lineEnd - off;
          off = lineEnd;
          state = State.CHUNK_SIZE;
        }
        case TRAILERS -> {
          if ((lineEnd = lineEnd(b, off, len)) < 0) return needLine(start, len - off);
          boolean last = blank(b, off, lineEnd);
          pos += lineEnd - off;
          off = lineEnd;
          if (last) {
            state = State.HEAD;
            ended();
            return true;
          }
        }
        case OPAQUE -> {}
      }
    }
    return pos != start;
  }

  private boolean needLine(long start, int available) {
    if (available >= MAX_HEAD_BYTES)
      giveUp("a chunk line longer than " + MAX_HEAD_BYTES + " bytes");
    return pos != start;
  }

  /** A message was classified to its last byte. */
  private void ended() {
    if (!requests && finalAnswer) {
      exchanges.answers++;
      finalAnswer = false;
    }
  }

  /**
   * Reads the head {@code b[off, end)} and sets the state for what follows it; returns a body
   * length to skip, 0 for none or chunked (state says which).
   */
  private long head(byte[] b, int off, int end) {
    int lineEnd = lineEnd(b, off, end);
    String[] start =
        new String(b, off, contentEnd(b, off, lineEnd) - off, StandardCharsets.ISO_8859_1)
            .split(" ", 3);
    long length = -1;
    boolean chunked = false;
    boolean close = false;
    boolean keepAlive = false;
    boolean upgrade = false;
    // Header lines, read in place: only four names matter, and most heads have none but one.
    for (int line = lineEnd; line < end; line = lineEnd) {
      lineEnd = lineEnd(b, line, end);
      int content = contentEnd(b, line, lineEnd);
      if (content == line) continue; // the blank end line
      int colon = line;
      while (colon < content && b[colon] != ':') colon++;
      if (colon == line || colon == content) {
        giveUp("a malformed header line");
        return 0;
      }
      if (named(b, line, colon, "content-length")) {
        long n = digits(value(b, colon, content));
        if (n < 0 || (length >= 0 && length != n)) {
          giveUp("an invalid Content-Length");
          return 0;
        }
        length = n;
      } else if (named(b, line, colon, "transfer-encoding")) {
        String value = value(b, colon, content);
        String last = value.substring(value.lastIndexOf(',') + 1).trim();
        if (!last.equalsIgnoreCase("chunked")) {
          giveUp("a body framed by Transfer-Encoding " + value);
          return 0;
        }
        chunked = true;
      } else if (named(b, line, colon, "connection")) {
        for (String token : value(b, colon, content).split(",")) {
          close |= token.trim().equalsIgnoreCase("close");
          keepAlive |= token.trim().equalsIgnoreCase("keep-alive");
        }
      } else if (named(b, line, colon, "upgrade")) {
        upgrade = true;
      }
    }
    if (chunked && length >= 0) {
      giveUp("both Content-Length and Transfer-Encoding");
      return 0;
    }
    return requests
        ? requestHead(start, length, chunked, close, keepAlive, upgrade)
        : responseHead(start, length, chunked, close, keepAlive);
  }

  /** Where the line {@code [line, lineEnd)} ends without its CR LF (or LF). */
  private static int contentEnd(byte[] b, int line, int lineEnd) {
    int e = lineEnd;
    if (e > line && b[e - 1] == '\n') e--;
    if (e > line && b[e - 1] == '\r') e--;
    return e;
  }

  /**
   * Whether the header name {@code b[from, colon)} (spaces around it allowed) is {@code name}, any
   * case.
   */
  private static boolean named(byte[] b, int from, int colon, String name) {
    while (colon > from && (b[colon - 1] == ' ' || b[colon - 1] == '\t')) colon--;
    if (colon - from != name.length()) return false;
    for (int i = 0; i < name.length(); i++) {
      int c = b[from + i];
      if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
      if (c != name.charAt(i)) return false;
    }
    return true;
  }

  private static String value(byte[] b, int colon, int content) {
    return new String(b, colon + 1, content - colon - 1, StandardCharsets.ISO_8859_1).trim();
  }

  private long requestHead(
      String[] start,
      long length,
      boolean chunked,
      boolean close,
      boolean keepAlive,
      boolean upgrade) {
    // The start line is well formed: plausibleStart matched it whole before the head was read.
    Kind kind =
        switch (start[0]) {
          case "HEAD" -> Kind.HEAD;
          case "CONNECT" -> Kind.CONNECT;
          default -> upgrade ? Kind.UPGRADE : Kind.PLAIN;
        };
    exchanges.pending.add(kind);
    exchanges.requests++;
    if (close || (start[2].equals("HTTP/1.0") && !keepAlive)) {
      unmovable = "the client asked to close the connection after a request";
    }
    if (kind == Kind.CONNECT) {
      giveUp("a CONNECT tunnel");
      return 0;
    }
    return body(length, chunked);
  }

  private long responseHead(
      String[] start, long length, boolean chunked, boolean close, boolean keepAlive) {
    int status = Integer.parseInt(start[1]);
    if (status == 101) {
      giveUp("the connection switched protocols");
      return 0;
    }
    if (status < 200) return 0; // 100 Continue, 103 Early Hints: the final answer follows
    Kind kind = exchanges.pending.isEmpty() ? Kind.PLAIN : exchanges.pending.poll();
    finalAnswer = true;
    if (close || (start[0].equals("HTTP/1.0") && !keepAlive)) {
      unmovable = "the upstream closes the connection after an answer";
    }
    if (kind == Kind.CONNECT) {
      giveUp("a CONNECT tunnel");
      return 0;
    }
    if (kind == Kind.HEAD || status == 204 || status == 304) return 0;
    if (!chunked && length < 0) {
      giveUp("an answer that ends with the connection (no Content-Length, not chunked)");
      return 0;
    }
    return body(length, chunked);
  }

  private long body(long length, boolean chunked) {
    if (chunked) {
      state = State.CHUNK_SIZE;
      return 0;
    }
    return Math.max(length, 0);
  }

  private static final java.util.regex.Pattern REQUEST_LINE =
      java.util.regex.Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ ]+ HTTP/1\\.[0-9]\r?");
  private static final java.util.regex.Pattern STATUS_LINE =
      java.util.regex.Pattern.compile("HTTP/1\\.[0-9] [0-9]{3}( [^\r]*)?\r?");

  /**
   * Whether {@code b[off, len)} can be the start of a request (or response) head: no control bytes
   * in the start line, a method token (or "HTTP/1.") as far as it goes, and, once the start line is
   * complete, a well-formed one.
   */
  private boolean plausibleStart(byte[] b, int off, int len) {
    int end = off;
    while (end < len && b[end] != '\n') end++;
    for (int i = off; i < end; i++) {
      int c = b[i] & 0xff;
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) return false;
    }
    String line = new String(b, off, end - off, StandardCharsets.ISO_8859_1);
    if (end < len) return (requests ? REQUEST_LINE : STATUS_LINE).matcher(line).matches();
    if (requests) {
      int sp = line.indexOf(' ');
      String method = sp < 0 ? line : line.substring(0, sp);
      return (sp != 0) && method.length() <= 32 && method.chars().allMatch(HttpFraming::tchar);
    }
    String want = "HTTP/1.";
    return want.startsWith(line.length() < want.length() ? line : line.substring(0, want.length()));
  }

  private static boolean tchar(int c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || "!#$%&'*+.^_`|~-".indexOf(c) >= 0;
  }

  /** The offset just past the blank line that ends a head starting at {@code off}, or -1. */
  private static int headEnd(byte[] b, int off, int len) {
    int lineStart = off;
    for (int i = off; i < len; i++) {
      if (b[i] != '\n') continue;
      int content = i - lineStart - (i > lineStart && b[i - 1] == '\r' ? 1 : 0);
      if (content == 0 && lineStart > off) return i + 1;
      lineStart = i + 1;
    }
    return -1;
  }

  /** The offset just past the next line end from {@code off}, or -1. */
  private static int lineEnd(byte[] b, int off, int len) {
    for (int i = off; i < len; i++) {
      if (b[i] == '\n') return i + 1;
    }
    return -1;
  }

  private static boolean blank(byte[] b, int off, int end) {
    return end - off == 1 || (end - off == 2 && b[off] == '\r');
  }

  /** The hex size at the start of the chunk line {@code b[off, end)}, or -1 if malformed. */
  private static long chunkSize(byte[] b, int off, int end) {
    long size = 0;
    int digits = 0;
    for (int i = off; i < end; i++) {
      int d = Character.digit(b[i], 16);
      if (d < 0) break;
      if (++digits > 15) return -1;
      size = size * 16 + d;
    }
    if (digits == 0) return -1;
    int next = b[off + digits];
    return next == ';' || next == '\r' || next == '\n' || next == ' ' || next == '\t' ? size : -1;
  }

  private static long digits(String s) {
    if (s.isEmpty() || s.length() > 18) return -1;
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') return -1;
    }
    return Long.parseLong(s);
  }
}
