package io.baton.app;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The sample application's cache of generated objects, for locality benchmarks ({@code GET
 * /cached/KEY}): a bounded LRU of {@value #OBJECT_BYTES}-byte objects. A hit answers from memory; a
 * miss generates the object first, which costs {@value #MISS_ROUNDS} rounds of SHA-256 over it
 * (about a millisecond of CPU here: a backing store or a renderer that the cache saves), on the
 * connection's event loop, so answers stay in request order. The answer says which it was ({@code
 * X-Cache: HIT} or {@code MISS}); the counters feed the node's metrics.
 *
 * <p>Thread-safe: the LRU is guarded by {@code this}, held only to look up and to insert.
 */
public final class ContentCache {
  public static final int OBJECT_BYTES = 16 * 1024;
  static final int MISS_ROUNDS = 12;
  private final long capacityObjects;
  private final Map<String, byte[]> lru;
  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();

  /**
   * @param capacityBytes at least one object's worth
   */
  public ContentCache(long capacityBytes) {
    if (capacityBytes < OBJECT_BYTES) {
      throw new IllegalArgumentException(
          "a cache holds at least " + OBJECT_BYTES + " bytes, got " + capacityBytes);
    }
    capacityObjects = capacityBytes / OBJECT_BYTES;
    lru =
        new LinkedHashMap<>(1024, 0.75f, true) {
          private static final long serialVersionUID = 1L;

          @Override
          protected boolean removeEldestEntry(Map.Entry<String, byte[]> eldest) {
            return size() > capacityObjects;
          }
        };
  }

  public long hits() {
    return hits.sum();
  }

  public long misses() {
    return misses.sum();
  }

  void serve(ChannelHandlerContext ctx, HttpRequest request, String key) {
    byte[] body;
    synchronized (this) {
      body = lru.get(key);
    }
    boolean hit = body != null;
    if (hit) {
      hits.increment();
    } else {
      misses.increment();
      body = generate(key);
      synchronized (this) {
        lru.put(key, body);
      }
    }
    boolean head = HttpMethod.HEAD.equals(request.method());
    FullHttpResponse response =
        new DefaultFullHttpResponse(
            request.protocolVersion(),
            HttpResponseStatus.OK,
            head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
    response
        .headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM)
        .set("X-Cache", hit ? "HIT" : "MISS");
    HttpUtil.setContentLength(response, body.length);
    ctx.write(response);
  }

  /** The object of {@code key}: deterministic, and deliberately costly to make. */
  static byte[] generate(String key) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] out = new byte[OBJECT_BYTES];
    byte[] block = sha.digest(key.getBytes(StandardCharsets.UTF_8));
    for (int round = 0; round < MISS_ROUNDS; round++) {
      for (int at = 0; at < out.length; at += block.length) {
        sha.update(block);
        sha.update(out, at, Math.min(block.length, out.length - at));
        block = sha.digest();
        System.arraycopy(block, 0, out, at, Math.min(block.length, out.length - at));
      }
    }
    return out;
  }
}
