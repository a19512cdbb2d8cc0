package io.baton.routing;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Walks the body of a reassembled ClientHello (RFC 8446 §4.1.2, RFC 6066 §3) and returns its server
 * name. Every vector length must fit exactly inside its parent.
 *
 * <p>Stateless; thread-safe.
 */
final class ClientHelloBody {
  static final int EXTENSION_SERVER_NAME = 0;
  static final int NAME_TYPE_HOST_NAME = 0;
  private static final int RANDOM_BYTES = 32;
  private static final int MAX_SESSION_ID_BYTES = 32;

  private ClientHelloBody() {}

  static Optional<String> serverName(byte[] body) throws MalformedHelloException {
    Cursor in = new Cursor(body, 0, body.length, "ClientHello");
    if (in.u8() != 3) throw new MalformedHelloException("ClientHello version is not TLS");
    in.u8();
    in.skip(RANDOM_BYTES);
    int sessionIdLength = in.u8();
    if (sessionIdLength > MAX_SESSION_ID_BYTES) {
      throw new MalformedHelloException("session id longer than 32 bytes");
    }
    in.skip(sessionIdLength);
    int cipherSuitesLength = in.u16();
    if (cipherSuitesLength == 0 || cipherSuitesLength % 2 != 0) {
      throw new MalformedHelloException("invalid cipher suites length");
    }
    in.skip(cipherSuitesLength);
    int compressionLength = in.u8();
    if (compressionLength == 0) throw new MalformedHelloException("no compression methods");
    in.skip(compressionLength);
    if (!in.hasRemaining()) return Optional.empty(); // no extensions at all (pre-TLS 1.2 style)
    Cursor extensions = in.vector16("extensions");
    if (in.hasRemaining()) throw new MalformedHelloException("bytes after the extensions");
    return findServerName(extensions);
  }

  private static Optional<String> findServerName(Cursor extensions) throws MalformedHelloException {
    Set<Integer> seen = new HashSet<>();
    Optional<String> name = Optional.empty();
    while (extensions.hasRemaining()) {
      int type = extensions.u16();
      Cursor data = extensions.vector16("extension " + type);
      if (!seen.add(type)) throw new MalformedHelloException("extension " + type + " repeated");
      if (type == EXTENSION_SERVER_NAME) name = Optional.of(hostName(data));
    }
    return name;
  }

  private static String hostName(Cursor extension) throws MalformedHelloException {
    Cursor list = extension.vector16("server name list");
    if (extension.hasRemaining()) {
      throw new MalformedHelloException("bytes after the server name list");
    }
    if (!list.hasRemaining()) throw new MalformedHelloException("empty server name list");
    String host = null;
    while (list.hasRemaining()) {
      int nameType = list.u8();
      Cursor name = list.vector16("server name");
      if (!name.hasRemaining()) throw new MalformedHelloException("empty server name");
      if (nameType != NAME_TYPE_HOST_NAME) continue;
      if (host != null) throw new MalformedHelloException("more than one host_name");
      host = name.ascii();
      if (!HostSyntax.isDnsName(host) || HostSyntax.looksNumeric(host)) {
        throw new MalformedHelloException("invalid SNI host name");
      }
    }
    if (host == null) throw new MalformedHelloException("server name list without host_name");
    return host.toLowerCase(Locale.ROOT);
  }

  /** Bounds-checked reader over {@code [position, limit)} of a byte array. */
  private static final class Cursor {
    private final byte[] bytes;
    private final int limit;
    private final String what;
    private int position;

    Cursor(byte[] bytes, int position, int limit, String what) {
      this.bytes = bytes;
      this.position = position;
      this.limit = limit;
      this.what = what;
    }

    boolean hasRemaining() {
      return position < limit;
    }

    int u8() throws MalformedHelloException {
      need(1);
      return bytes[position++] & 0xff;
    }

    int u16() throws MalformedHelloException {
      need(2);
      int value = ((bytes[position] & 0xff) << 8) | (bytes[position + 1] & 0xff);
      position += 2;
      return value;
    }

    void skip(int n) throws MalformedHelloException {
      need(n);
      position += n;
    }

    /** A vector with a two-byte length, as a cursor of its own; this one moves past it. */
    Cursor vector16(String name) throws MalformedHelloException {
      int length = u16();
      if (length > limit - position) {
        throw new MalformedHelloException(name + " length runs past " + what);
      }
      Cursor inner = new Cursor(bytes, position, position + length, name);
      position += length;
      return inner;
    }

    String ascii() throws MalformedHelloException {
      for (int i = position; i < limit; i++) {
        if (bytes[i] < 0x21) throw new MalformedHelloException("invalid SNI host name");
      }
      String s = new String(bytes, position, limit - position, StandardCharsets.US_ASCII);
      position = limit;
      return s;
    }

    private void need(int n) throws MalformedHelloException {
      if (n > limit - position) throw new MalformedHelloException(what + " truncated");
    }
  }
}
