package io.baton.routing;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * Builds TLS bytes for the tests: real ClientHellos from the JDK's own TLS client (an {@link
 * SSLEngine} in client mode, first {@code wrap()}, no network), re-fragmented into several records,
 * and hand-made hellos whose lengths can be broken on purpose.
 */
final class TlsBytes {
  private TlsBytes() {}

  /** The JDK client's first flight: one handshake record holding its ClientHello. */
  static byte[] jdkClientHello(Optional<String> serverName, String... protocols) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, null, null);
      SSLEngine engine = context.createSSLEngine();
      engine.setUseClientMode(true);
      if (protocols.length > 0) engine.setEnabledProtocols(protocols);
      SSLParameters parameters = engine.getSSLParameters();
      serverName.ifPresent(name -> parameters.setServerNames(List.of(new SNIHostName(name))));
      engine.setSSLParameters(parameters);
      ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
      engine.wrap(ByteBuffer.allocate(0), out);
      out.flip();
      byte[] bytes = new byte[out.remaining()];
      out.get(bytes);
      return bytes;
    } catch (Exception e) {
      throw new AssertionError("JDK TLS client could not produce a ClientHello", e);
    }
  }

  /** Re-packs the handshake bytes of {@code records} into records of at most {@code size}. */
  static byte[] refragment(byte[] records, int size) {
    byte[] handshake = handshakeBytes(records);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int at = 0; at < handshake.length; at += size) {
      out.writeBytes(
          record(22, Arrays.copyOfRange(handshake, at, Math.min(handshake.length, at + size))));
    }
    return out.toByteArray();
  }

  /** The handshake payload of a sequence of records (headers dropped). */
  static byte[] handshakeBytes(byte[] records) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int at = 0;
    while (at < records.length) {
      int length = ((records[at + 3] & 0xff) << 8) | (records[at + 4] & 0xff);
      out.write(records, at + 5, length);
      at += 5 + length;
    }
    return out.toByteArray();
  }

  static byte[] record(int contentType, byte[] payload) {
    return concat(bytes(contentType, 3, 1), u16(payload.length), payload);
  }

  static byte[] handshake(int type, byte[] body) {
    return concat(bytes(type), u24(body.length), body);
  }

  /** A one-record ClientHello carrying {@code extensions} ({@code null}: no extensions block). */
  static byte[] hello(byte[] extensions) {
    return record(22, handshake(1, helloBody(extensions)));
  }

  static byte[] helloBody(byte[] extensions) {
    byte[] fixed =
        concat(
            bytes(3, 3),
            new byte[32], // version, random
            bytes(0), // session id
            u16(4),
            bytes(0x13, 0x01, 0x13, 0x02), // cipher suites
            bytes(1, 0)); // compression: null
    return extensions == null ? fixed : concat(fixed, u16(extensions.length), extensions);
  }

  static byte[] extension(int type, byte[] data) {
    return concat(u16(type), u16(data.length), data);
  }

  /** A server_name extension listing host names (name type 0). */
  static byte[] sniExtension(String... hostNames) {
    ByteArrayOutputStream list = new ByteArrayOutputStream();
    for (String name : hostNames) list.writeBytes(serverName(0, ascii(name)));
    return extension(0, concat(u16(list.size()), list.toByteArray()));
  }

  static byte[] serverName(int type, byte[] name) {
    return concat(bytes(type), u16(name.length), name);
  }

  static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  static byte[] bytes(int... values) {
    byte[] out = new byte[values.length];
    for (int i = 0; i < values.length; i++) out[i] = (byte) values[i];
    return out;
  }

  static byte[] u16(int value) {
    return bytes(value >>> 8, value);
  }

  static byte[] u24(int value) {
    return bytes(value >>> 16, value >>> 8, value);
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) out.writeBytes(part);
    return out.toByteArray();
  }
}
