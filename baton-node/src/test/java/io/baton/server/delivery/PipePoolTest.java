package io.baton.server.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The relay's pipes: a drained pair serves the next connection, one that holds bytes is closed. */
class PipePoolTest {
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
  void aFinishedConnectionsPipesServeTheNextOne() throws Exception {
    try (TestUpstream upstream = new TestUpstream(TestUpstream::echo)) {
      RelayDelivery delivery = new RelayDelivery(group, upstream.address(), IDLE);
      assertThat(delivery.sparePipes()).isZero();
      echoThrough(delivery, 1);
      assertThat(delivery.sparePipes()).as("both pipes back, drained").isEqualTo(2);
      echoThrough(delivery, 2);
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
      RelayDelivery delivery = new RelayDelivery(group, upstream.address(), IDLE);
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

  private static void echoThrough(RelayDelivery delivery, int seed) throws Exception {
    byte[] request = new byte[128 * 1024];
    new Random(seed).nextBytes(request);
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
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      Socket s = conn.client;
      s.getInputStream().transferTo(got);
      writer.join(20_000);
      assertThat(new Sha256().update(got.toByteArray()).hex())
          .isEqualTo(new Sha256().update(request).hex());
      assertThat(closed.await())
          .isEqualTo(new RecordingCloseListener.Counts(request.length, request.length));
    }
  }
}
