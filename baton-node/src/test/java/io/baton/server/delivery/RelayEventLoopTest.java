package io.baton.server.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What each relay event loop keeps for its next connections, over loopback with one event loop (the
 * relays and what they take share it, as on a server): upstream connections opened ahead of need,
 * and the drained pipes of ended relays.
 */
class RelayEventLoopTest {
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
    try (TestUpstream upstream = countingEcho(accepted)) {
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
    try (TestUpstream upstream = countingEcho(accepted)) {
      RelayDelivery delivery = delivery(upstream, 0);
      echoThrough(delivery, 6);
      echoThrough(delivery, 7);
      assertThat(accepted.get()).isEqualTo(2);
      assertThat(delivery.preconnects()).isEqualTo(new RelayDelivery.Preconnects(0, 0, 0, 0));
    }
  }

  @Test
  void aFinishedConnectionsPipesServeTheNextOne() throws Exception {
    try (TestUpstream upstream = new TestUpstream(TestUpstream::echo)) {
      RelayDelivery delivery = delivery(upstream, 0);
      assertThat(delivery.sparePipes()).isZero();
      echoThrough(delivery, 8);
      assertThat(delivery.sparePipes()).as("both pipes back, drained").isEqualTo(2);
      echoThrough(delivery, 9);
      assertThat(delivery.sparePipes()).as("the same two taken and given back").isEqualTo(2);
    }
  }

  @Test
  void aPipeThatStillHoldsBytesIsClosedNotReused() throws Exception {
    CountDownLatch upstreamMayClose = new CountDownLatch(1);
    try (TestUpstream upstream =
        new TestUpstream(
            s -> {
              // Reads nothing: the client's bytes pile up in the relay's pipe to it.
              try {
                upstreamMayClose.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return 0;
            })) {
      RelayDelivery delivery = delivery(upstream, 0);
      try (RestoredSocket conn = RestoredSocket.open("stuck")) {
        RecordingCloseListener closed = new RecordingCloseListener();
        java.util.concurrent.atomic.AtomicReference<Movable> relay =
            new java.util.concurrent.atomic.AtomicReference<>();
        conn.deliverTo(delivery, new byte[0], closed, relay::set);
        OutputStream out = conn.client.getOutputStream();
        byte[] chunk = new byte[64 * 1024];
        new Random(3).nextBytes(chunk);
        Thread writer =
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        for (int i = 0; i < 256; i++) out.write(chunk); // more than all buffers
                      } catch (java.io.IOException expected) {
                        // the reset below ends it
                      }
                    });
        // Until the relay takes no more from the client (three readings 50 ms apart): the upstream
        // and the sockets on the way are full, and so is the relay's pipe to the upstream.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        long last = -1;
        for (int same = 0; same < 3; ) {
          assertThat(System.nanoTime()).as("the relay to stop taking bytes").isLessThan(deadline);
          Thread.sleep(50); // polling a deadline, not synchronising
          long taken = relay.get() == null ? 0 : relay.get().bytesIn();
          same = taken > 0 && taken == last ? same + 1 : 0;
          last = taken;
        }
        conn.client.setSoLinger(true, 0);
        conn.client.close(); // a reset: the relay ends with bytes in its pipe to the upstream
        closed.await();
        writer.join(10_000);
      } finally {
        upstreamMayClose.countDown();
      }
      assertThat(delivery.sparePipes()).as("only the drained pipe back").isEqualTo(1);
    }
  }

  /** An echo upstream that counts the connections it accepts. */
  private static TestUpstream countingEcho(AtomicInteger accepted) throws java.io.IOException {
    return new TestUpstream(
        s -> {
          accepted.incrementAndGet();
          return TestUpstream.echo(s);
        });
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
