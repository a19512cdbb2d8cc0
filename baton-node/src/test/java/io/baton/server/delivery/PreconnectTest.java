package io.baton.server.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The relay's upstream connections opened ahead of need, over loopback with one event loop (the
 * relays and the connections they take share it, as on a server).
 */
class PreconnectTest {
  private static final Duration IDLE = Duration.ofSeconds(60);
  private static EventLoopGroup group;

  @BeforeAll
  static void startLoop() {
    group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
  }

  @AfterAll
  static void stopLoop() {
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void theNextConnectionTakesTheOneOpenedAheadAndBothAreRelayedByteExact() throws Exception {
    AtomicInteger accepted = new AtomicInteger();
    try (TestUpstream upstream =
        new TestUpstream(
            s -> {
              accepted.incrementAndGet();
              return TestUpstream.echo(s);
            })) {
      RelayDelivery delivery = delivery(upstream, 1);

      echoThrough(delivery, 1);
      // The relay's own connection, then the one opened after its start.
      await(() -> accepted.get() == 2, "the upstream accepted a second connection");
      assertThat(delivery.preconnects().used()).isZero();

      echoThrough(delivery, 2);
      assertThat(delivery.preconnects()).isEqualTo(new RelayDelivery.Preconnects(1, 0, 0, 0));
      // It took the one opened ahead and opened the next.
      await(() -> accepted.get() == 3, "the upstream accepted a third connection");
    }
  }

  @Test
  void oneTheUpstreamClosedIsDroppedAndTheNextConnectionConnectsAfresh() throws Exception {
    AtomicInteger accepted = new AtomicInteger();
    try (TestUpstream upstream =
        new TestUpstream(
            (s, number) -> {
              accepted.incrementAndGet();
              if (number == 2) return 0; // closes the one opened ahead at once
              return TestUpstream.echo(s);
            })) {
      RelayDelivery delivery = delivery(upstream, 1);

      echoThrough(delivery, 3);
      await(
          () -> delivery.preconnects().closedByUpstream() == 1,
          "the relay saw the upstream close the connection it opened ahead");

      echoThrough(delivery, 4);
      assertThat(delivery.preconnects().used()).isZero();
      assertThat(accepted.get()).isGreaterThanOrEqualTo(3);
    }
  }

  @Test
  void oneNotUsedInTimeIsClosedWithoutAByteSent() throws Exception {
    List<Long> bytesSeen = new CopyOnWriteArrayList<>();
    try (TestUpstream upstream =
        new TestUpstream(
            s -> {
              long n = s.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
              bytesSeen.add(n);
              s.shutdownOutput();
              return n;
            })) {
      RelayDelivery delivery = delivery(upstream, 1);
      byte[] request = randomBytes(5, 1000);
      try (RestoredSocket conn = RestoredSocket.open("one")) {
        conn.client.getOutputStream().write(request);
        conn.client.shutdownOutput();
        RecordingCloseListener closed = new RecordingCloseListener();
        conn.deliverTo(delivery, new byte[0], closed);
        assertThat(conn.client.getInputStream().readAllBytes()).isEmpty();
        assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(1000, 0));
      }
      long deadline =
          System.nanoTime() + PreconnectedUpstreams.MAX_AGE_NS + TimeUnit.SECONDS.toNanos(5);
      while (delivery.preconnects().expired() == 0 || bytesSeen.size() < 2) {
        assertThat(System.nanoTime()).as("the unused connection expired").isLessThan(deadline);
        Thread.sleep(20); // polling a deadline, not synchronising
      }
      assertThat(bytesSeen).containsExactlyInAnyOrder(1000L, 0L);
      assertThat(delivery.preconnects()).isEqualTo(new RelayDelivery.Preconnects(0, 1, 0, 0));
    }
  }

  @Test
  void noneAreOpenedWhenTheDeliveryAsksForNone() throws Exception {
    AtomicInteger accepted = new AtomicInteger();
    try (TestUpstream upstream =
        new TestUpstream(
            s -> {
              accepted.incrementAndGet();
              return TestUpstream.echo(s);
            })) {
      RelayDelivery delivery = delivery(upstream, 0);
      echoThrough(delivery, 6);
      echoThrough(delivery, 7);
      assertThat(accepted.get()).isEqualTo(2);
      assertThat(delivery.preconnects()).isEqualTo(new RelayDelivery.Preconnects(0, 0, 0, 0));
    }
  }

  private static RelayDelivery delivery(TestUpstream upstream, int preconnect) {
    return new RelayDelivery(
        group,
        UpstreamChooser.fixed(upstream.address()),
        "test",
        Duration.ofSeconds(5),
        IDLE,
        false,
        preconnect);
  }

  /** One connection's 256 KiB through the relay to the echo and back, checked by SHA-256. */
  private static void echoThrough(RelayDelivery delivery, int seed) throws Exception {
    byte[] request = randomBytes(seed, 256 * 1024);
    try (RestoredSocket conn = RestoredSocket.open("echo " + seed)) {
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(delivery, new byte[0], closed);
      Thread writer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      conn.client.getOutputStream().write(request);
                      conn.client.shutdownOutput();
                    } catch (java.io.IOException e) {
                      throw new java.io.UncheckedIOException(e);
                    }
                  });
      byte[] got = readAll(conn.client);
      writer.join(20_000);
      assertThat(new Sha256().update(got).hex()).isEqualTo(new Sha256().update(request).hex());
      assertThat(closed.await())
          .isEqualTo(new RecordingCloseListener.Counts(request.length, request.length));
    }
  }

  private static byte[] readAll(Socket s) throws java.io.IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    InputStream in = s.getInputStream();
    in.transferTo(out);
    return out.toByteArray();
  }

  private static byte[] randomBytes(int seed, int n) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what).isLessThan(deadline);
      Thread.sleep(10); // polling a deadline, not synchronising
    }
  }
}
