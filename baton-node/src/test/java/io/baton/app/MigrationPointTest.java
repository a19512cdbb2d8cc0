package io.baton.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.migration.Migratable;
import io.baton.migration.MigratedIn;
import io.baton.migration.SafePoint;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.FileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Promise;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sample app's safe points for live migration, on an embedded channel. */
class MigrationPointTest {
  @TempDir Path dir;
  private SampleFiles files;
  private EmbeddedChannel ch;

  @BeforeEach
  void setUp() throws Exception {
    files = SampleFiles.create(dir, 3);
    ch = new EmbeddedChannel(new SampleApp(files.root, "s1").initializer());
  }

  @AfterEach
  void tearDown() {
    ch.finishAndReleaseAll();
  }

  private void send(String s) {
    ch.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
  }

  private String output() {
    StringBuilder out = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      if (o instanceof ByteBuf b) {
        out.append(b.toString(StandardCharsets.ISO_8859_1));
        b.release();
      } else if (o instanceof FileRegion r) {
        out.append("[region ").append(r.position()).append('+').append(r.count()).append(']');
        r.release();
      }
    }
    return out.toString();
  }

  private Promise<SafePoint> suspend() {
    Promise<SafePoint> p = ch.eventLoop().newPromise();
    ch.pipeline().get(Migratable.class).suspend(p);
    ch.runPendingTasks();
    return p;
  }

  @Test
  void betweenRequestsTheSafePointIsImmediateAndCarriesNothing() {
    send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(output()).startsWith("HTTP/1.1 200 OK").contains("[region 0+6]");
    Promise<SafePoint> p = suspend();
    assertThat(p.isSuccess()).isTrue();
    assertThat(p.getNow().appState()).isEmpty();
    assertThat(p.getNow().unread()).isEmpty();
    assertThat(ch.config().isAutoRead()).as("reading stops at the safe point").isFalse();
  }

  @Test
  void theStartOfTheNextRequestTravelsAsUnreadBytes() {
    send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /ind");
    output();
    Promise<SafePoint> p = suspend();
    assertThat(p.isSuccess()).isTrue();
    assertThat(new String(p.getNow().unread(), StandardCharsets.US_ASCII)).isEqualTo("GET /ind");
  }

  @Test
  void aHeadHalfReadIsNoSafePointUntilItsRequestIsAnswered() {
    send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n"); // the header block's end has not come
    Promise<SafePoint> p = suspend();
    assertThat(p.isDone())
        .as("mid-head: the decoder has consumed lines that exist nowhere else")
        .isFalse();
    send("\r\n");
    assertThat(output()).contains("[region 0+6]");
    assertThat(p.isSuccess()).isTrue();
    assertThat(p.getNow().unread()).isEmpty();
  }

  @Test
  void afterResumeTheConnectionServesTheNextRequest() {
    Promise<SafePoint> p = suspend();
    assertThat(p.isSuccess()).isTrue();
    ch.pipeline().get(Migratable.class).resume();
    assertThat(ch.config().isAutoRead()).isTrue();
    send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(output()).contains("HTTP/1.1 200 OK");
  }

  @Test
  void aMigratedInDownloadContinuesRawFromItsOffsetAndThenServesTheNextRequest() throws Exception {
    long size = files.bigLength;
    long modified =
        java.nio.file.Files.getLastModifiedTime(files.root.resolve("big.bin")).toMillis();
    byte[] state =
        new MigrationPoint.BodyState("big.bin", 1 << 20, size, true, size, modified).encode();
    EmbeddedChannel target = new EmbeddedChannel(new SampleApp(files.root, "s2").initializer());
    target.pipeline().fireUserEventTriggered(new MigratedIn(state));
    target.runPendingTasks();
    StringBuilder regions = new StringBuilder();
    for (Object o; (o = target.readOutbound()) != null; ) {
      assertThat(o)
          .as("raw bytes of the file, no HTTP framing")
          .isInstanceOf(DefaultFileRegion.class);
      FileRegion r = (FileRegion) o;
      regions.append(r.position()).append('+').append(r.count()).append(' ');
      r.release();
    }
    assertThat(regions.toString().strip()).isEqualTo("1048576+1048576 2097152+1048576");
    assertThat(target.config().isAutoRead()).isTrue();
    target.writeInbound(
        Unpooled.copiedBuffer(
            "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", StandardCharsets.US_ASCII));
    Object head = target.readOutbound();
    assertThat(((ByteBuf) head).toString(StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200 OK");
    ((ByteBuf) head).release();
    target.finishAndReleaseAll();
  }

  @Test
  void aMigratedInDownloadOfAChangedFileIsClosedNotContinued() {
    byte[] state =
        new MigrationPoint.BodyState("big.bin", 0, files.bigLength, true, files.bigLength + 1, 0)
            .encode();
    EmbeddedChannel target = new EmbeddedChannel(new SampleApp(files.root, "s2").initializer());
    target.pipeline().fireUserEventTriggered(new MigratedIn(state));
    target.runPendingTasks();
    assertThat(target.isOpen()).isFalse();
    target.finishAndReleaseAll();
  }
}
