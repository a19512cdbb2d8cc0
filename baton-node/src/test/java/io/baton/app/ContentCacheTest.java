package io.baton.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContentCacheTest {
  @Test
  void objectsAreDeterministicAndTheLruKeepsTheRecentOnes() {
    assertThat(ContentCache.generate("k1"))
        .isEqualTo(ContentCache.generate("k1"))
        .hasSize(ContentCache.OBJECT_BYTES)
        .isNotEqualTo(ContentCache.generate("k2"));
    long start = System.nanoTime();
    for (int i = 0; i < 20; i++) ContentCache.generate("warm" + i);
    System.out.printf(
        "content cache: a miss costs %.2f ms of CPU%n", (System.nanoTime() - start) / 20 / 1e6);
  }

  @Test
  void theSampleAppAnswersHitsAndMissesThroughItsRoute(@TempDir Path root) {
    ContentCache cache = new ContentCache(2L * ContentCache.OBJECT_BYTES);
    EmbeddedChannel server = new EmbeddedChannel(new SampleApp(root, "s1", cache).initializer());
    String[] keys = {"a", "b", "a", "c", "a", "b"};
    String[] expected = {"MISS", "MISS", "HIT", "MISS", "HIT", "MISS"};
    for (int i = 0; i < keys.length; i++) {
      EmbeddedChannel client =
          new EmbeddedChannel(new HttpClientCodec(), new HttpObjectAggregator(1 << 20));
      client.writeOutbound(
          new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/cached/" + keys[i]));
      for (ByteBuf b; (b = client.readOutbound()) != null; ) server.writeInbound(b);
      for (ByteBuf b; (b = server.readOutbound()) != null; ) client.writeInbound(b);
      FullHttpResponse r = client.readInbound();
      assertThat(r.headers().get("X-Cache"))
          .as("request %d for %s", i, keys[i])
          .isEqualTo(expected[i]);
      assertThat(r.content().readableBytes()).isEqualTo(ContentCache.OBJECT_BYTES);
      r.release();
    }
    assertThat(cache.hits()).isEqualTo(2);
    assertThat(cache.misses()).isEqualTo(4);
  }
}
