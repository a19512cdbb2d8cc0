package io.baton.routing;

import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * Reads a TLS ClientHello from bytes as they arrive and extracts the server name (SNI), without
 * decrypting anything, so the dispatcher can route a TLS connection by name before handing it off.
 *
 * <p>Reassembles the handshake message from as many TLS records (content type 22) as it spans, each
 * in as many chunks as TCP delivers. The parser consumes only the records that carry the
 * ClientHello: on {@link Complete} the buffer's position is at the first byte after them.
 *
 * <p>Lengths are checked strictly at every level (record, handshake, vectors, extensions, server
 * name list); a record that runs on past the end of the ClientHello, a repeated extension, a second
 * host name or a name that is not a plain DNS name (ASCII letters, digits, {@code -}, {@code _}; no
 * trailing dot; no IP literal, RFC 6066 §3) all give {@link NotTls}. SSLv2-style hellos are not
 * supported. The returned name is lowercased.
 *
 * <p>The limit counts every byte read, record headers included.
 *
 * <p>Not thread-safe: one instance per connection, confined to that connection's event loop.
 */
public final class ClientHelloParser {
  /** Default limit: a ClientHello with post-quantum key shares is about 2 KiB. */
  public static final int DEFAULT_MAX_HELLO_BYTES = 16 * 1024;

  /** Outcome of {@link #offer}: keep reading, or one of three final answers. */
  public sealed interface Result permits NeedMore, Complete, NotTls, TooLarge {}

  /** The ClientHello is not complete yet; offer the next chunk. */
  public record NeedMore() implements Result {}

  /**
   * The ClientHello is complete.
   *
   * @param sni the requested host name, lowercased, if the client sent one
   * @param bytesInspected stream bytes read: the records that carried the ClientHello
   */
  public record Complete(Optional<String> sni, int bytesInspected) implements Result {}

  /** The bytes are no ClientHello Baton accepts; the dispatcher closes the connection. */
  public record NotTls(String reason) implements Result {}

  /** The ClientHello would exceed {@code limit} bytes; the dispatcher closes the connection. */
  public record TooLarge(int limit) implements Result {}

  static final int RECORD_HEADER_BYTES = 5;
  static final int HANDSHAKE_HEADER_BYTES = 4;
  static final int CONTENT_TYPE_HANDSHAKE = 22;
  static final int HANDSHAKE_CLIENT_HELLO = 1;
  static final int MAX_RECORD_PAYLOAD = 1 << 14; // RFC 8446 §5.1

  private static final NeedMore NEED_MORE = new NeedMore();

  private final int maxHelloBytes;
  private final byte[] recordHeader = new byte[RECORD_HEADER_BYTES];
  private int recordHeaderFill;
  private int recordRemaining; // payload bytes of the current record not yet read
  private final byte[] handshakeHeader = new byte[HANDSHAKE_HEADER_BYTES];
  private int handshakeHeaderFill;
  private byte[] body; // ClientHello body, allocated once its length is known
  private int bodyFill;
  private int bytesInspected;
  private Result outcome;

  public ClientHelloParser() {
    this(DEFAULT_MAX_HELLO_BYTES);
  }

  public ClientHelloParser(int maxHelloBytes) {
    if (maxHelloBytes < 64) {
      throw new IllegalArgumentException("maxHelloBytes must be at least 64, got " + maxHelloBytes);
    }
    this.maxHelloBytes = maxHelloBytes;
  }

  public int maxHelloBytes() {
    return maxHelloBytes;
  }

  /**
   * Reads ClientHello bytes from {@code chunk}, advancing its position past the bytes it used.
   *
   * @throws IllegalStateException if an earlier call already returned a final result
   */
  public Result offer(ByteBuffer chunk) {
    if (outcome != null) throw new IllegalStateException("hello already parsed: " + outcome);
    try {
      while (chunk.hasRemaining()) {
        if (recordRemaining == 0) {
          readRecordHeaderByte(chunk.get());
        } else {
          readPayload(chunk);
        }
        if (bytesInspected > maxHelloBytes) return finish(new TooLarge(maxHelloBytes));
        if (body != null && bodyFill == body.length) return finish(complete());
      }
    } catch (TooLargeSignal e) {
      return finish(new TooLarge(maxHelloBytes));
    } catch (MalformedHelloException e) {
      return finish(new NotTls(e.getMessage()));
    }
    return NEED_MORE;
  }

  /** Same as {@link #offer(ByteBuffer)} on the whole array. */
  public Result offer(byte[] chunk) {
    return offer(ByteBuffer.wrap(chunk));
  }

  private Result finish(Result result) {
    outcome = result;
    body = null;
    return result;
  }

  private void readRecordHeaderByte(byte b) throws MalformedHelloException {
    bytesInspected++;
    recordHeader[recordHeaderFill++] = b;
    switch (recordHeaderFill) {
      case 1 -> checkContentType(b & 0xff);
      case 2 -> {
        if (b != 3) {
          throw new MalformedHelloException("record version is not TLS (major " + b + ")");
        }
      }
      case 3 -> {
        if ((b & 0xff) > 4) throw new MalformedHelloException("unknown TLS record version");
      }
      case RECORD_HEADER_BYTES -> {
        int length = ((recordHeader[3] & 0xff) << 8) | (recordHeader[4] & 0xff);
        if (length == 0) throw new MalformedHelloException("empty handshake record");
        if (length > MAX_RECORD_PAYLOAD) {
          throw new MalformedHelloException("record longer than 2^14 bytes");
        }
        recordRemaining = length;
        recordHeaderFill = 0;
      }
      default -> {}
    }
  }

  private void checkContentType(int type) throws MalformedHelloException {
    if (type == CONTENT_TYPE_HANDSHAKE) return;
    if (bytesInspected > 1) {
      throw new MalformedHelloException("record of type " + type + " inside the ClientHello");
    }
    if ((type & 0x80) != 0) throw new MalformedHelloException("SSLv2 hello is not supported");
    if (type >= 'A' && type <= 'Z') {
      throw new MalformedHelloException("plaintext (looks like HTTP) on a TLS port");
    }
    throw new MalformedHelloException("first record is not a handshake (type " + type + ")");
  }

  private void readPayload(ByteBuffer chunk) throws MalformedHelloException, TooLargeSignal {
    if (body == null) {
      byte b = chunk.get();
      bytesInspected++;
      recordRemaining--;
      handshakeHeader[handshakeHeaderFill++] = b;
      if (handshakeHeaderFill == 1 && b != HANDSHAKE_CLIENT_HELLO) {
        throw new MalformedHelloException(
            "first handshake message is not a ClientHello (type " + (b & 0xff) + ")");
      }
      if (handshakeHeaderFill == HANDSHAKE_HEADER_BYTES) startBody();
      return;
    }
    int n = Math.min(chunk.remaining(), Math.min(recordRemaining, body.length - bodyFill));
    chunk.get(body, bodyFill, n);
    bodyFill += n;
    bytesInspected += n;
    recordRemaining -= n;
    if (bodyFill == body.length && recordRemaining != 0) {
      throw new MalformedHelloException("record continues after the ClientHello");
    }
  }

  private void startBody() throws MalformedHelloException, TooLargeSignal {
    int length =
        ((handshakeHeader[1] & 0xff) << 16)
            | ((handshakeHeader[2] & 0xff) << 8)
            | (handshakeHeader[3] & 0xff);
    if (length == 0) throw new MalformedHelloException("empty ClientHello");
    // Every body byte still has to be read: fail now rather than after buffering the limit.
    if ((long) bytesInspected + length > maxHelloBytes) throw new TooLargeSignal();
    body = new byte[length];
    if (recordRemaining == 0) return;
    if (recordRemaining > length) {
      throw new MalformedHelloException("record continues after the ClientHello");
    }
  }

  private Result complete() throws MalformedHelloException {
    return new Complete(ClientHelloBody.serverName(body), bytesInspected);
  }

  /** Internal signal: the hello announced a length beyond the limit. */
  private static final class TooLargeSignal extends Exception {
    TooLargeSignal() {
      super(null, null, false, false);
    }
  }
}
