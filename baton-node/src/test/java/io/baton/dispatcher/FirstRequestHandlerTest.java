package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.dataplane.Vip;
import io.baton.routing.LoadTable;
import io.baton.routing.Router;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The first-request phase of one connection on an {@link EmbeddedChannel} with frozen time: every
 * way the phase ends releases the admission exactly once, the timers run from accept, and the
 * dispatcher's own answers say nothing about the farm. No handoff happens here (the VIP has no
 * pool, so a complete head ends in the coordinator's 503).
 */
class FirstRequestHandlerTest {
  private static final InetSocketAddress CLIENT = new InetSocketAddress("198.18.0.10", 40000);
  private static final Duration FIRST_BYTE = Duration.ofSeconds(1);
  private static final Duration HEAD = Duration.ofSeconds(3);

  private final DispatcherStats stats = new DispatcherStats();
  private final AdmissionControl admission = new AdmissionControl(10, 2);
  private final HandoffCoordinator coordinator =
      new HandoffCoordinator(
          null,
          null,
          Transplanter.KERNEL,
          new LoadTable(),
          stats,
          System::nanoTime,
          Duration.ofSeconds(1),
          null,
          ServerEligibility.ANY);
  private final VipSite site =
      new VipSite(
          new Vip(vip(), 80),
          Mode.HTTP,
          new Router(List.of(), Optional.empty()),
          Map.of(),
          16_384,
          FIRST_BYTE,
          HEAD,
          Duration.ofSeconds(2));

  /** An embedded channel whose peer is a client IP, as the handler expects of a TCP channel. */
  private static final class ClientChannel extends EmbeddedChannel {
    ClientChannel() {
      super(false, false);
    }

    @Override
    protected SocketAddress remoteAddress0() {
      return CLIENT;
    }
  }

  private EmbeddedChannel ch;

  @AfterEach
  void closeChannel() {
    if (ch != null) ch.finishAndReleaseAll();
  }

  private EmbeddedChannel connect() throws Exception {
    EmbeddedChannel c = new ClientChannel();
    c.register();
    c.freezeTime(); // needs the event loop; the accept below happens at the frozen instant
    c.pipeline().addLast(new FirstRequestHandler(site, coordinator, stats, admission, 5));
    c.pipeline().fireChannelActive();
    return c;
  }

  @Test
  void anIdleConnectionIsClosedAtFirstByteAndReleased() throws Exception {
    ch = connect();
    assertThat(admission.pending()).isEqualTo(1);
    assertThat(stats.firstRequestPhase.sum()).isEqualTo(1);

    ch.advanceTimeBy(FIRST_BYTE.toMillis() - 1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertThat(ch.isOpen()).isTrue();
    ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();

    assertThat(ch.isOpen()).isFalse();
    assertThat(stats.closedSlow.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void theHeadTimerRunsFromAcceptHoweverTheBytesTrickle() throws Exception {
    ch = connect();
    ch.advanceTimeBy(900, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    for (int ms = 900; ms < HEAD.toMillis() - 100; ms += 100) {
      ch.writeInbound(ascii("G"));
      ch.advanceTimeBy(100, TimeUnit.MILLISECONDS);
      ch.runScheduledPendingTasks();
    }
    assertThat(stats.answered408.sum()).as("not yet at %s", HEAD.minusMillis(100)).isZero();
    ch.advanceTimeBy(100, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();

    assertThat(outbound()).startsWith("HTTP/1.1 408 Request Timeout");
    assertThat(stats.answered408.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void tooManyHeaderFieldsGet431AndAreCounted() throws Exception {
    ch = connect();
    ch.writeInbound(
        ascii("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n"));

    assertThat(outbound())
        .startsWith("HTTP/1.1 431 Request Header Fields Too Large")
        .contains("more than 5 header fields");
    assertThat(stats.answered431HeaderCount.sum()).isEqualTo(1);
    assertThat(stats.answered431.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void aMalformedHeadGets400AndIsReleased() throws Exception {
    ch = connect();
    ch.writeInbound(ascii("GARBAGE\r\n\r\n"));

    assertThat(outbound()).startsWith("HTTP/1.1 400 Bad Request");
    assertReleased();
  }

  @Test
  void aCompleteHeadLeavesThePhaseAndA503NamesNoPoolOrNode() throws Exception {
    ch = connect();
    ch.writeInbound(ascii("GET /x?" + "q".repeat(6_000) + " HTTP/1.1\r\nHost: h\r\n\r\n"));

    String answer = outbound();
    assertThat(answer)
        .startsWith("HTTP/1.1 503 Service Unavailable")
        .endsWith("\r\n\r\n503 Service Unavailable: " + Responses.UNAVAILABLE_DETAIL + "\n")
        .doesNotContain("pool");
    assertThat(stats.answered503.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void aClientThatLeavesIsReleased() throws Exception {
    ch = connect();
    ch.writeInbound(ascii("GET / HT"));
    ch.close();

    assertThat(stats.clientGone.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void anExceptionReleases() throws Exception {
    ch = connect();
    ch.pipeline().fireExceptionCaught(new java.io.IOException("connection reset by peer"));

    assertThat(ch.isOpen()).isFalse();
    assertReleased();
  }

  @Test
  void aClientOverItsCapIsClosedAtOnceAndCounted() throws Exception {
    EmbeddedChannel first = connect();
    EmbeddedChannel second = connect();
    ch = connect();

    assertThat(ch.isOpen()).isFalse();
    assertThat(stats.refusedPendingPerClient.sum()).isEqualTo(1);
    assertThat(stats.accepted.sum()).isEqualTo(3);
    assertThat(admission.pending()).isEqualTo(2);
    assertThat(stats.firstRequestPhase.sum()).isEqualTo(2);
    first.finishAndReleaseAll();
    second.finishAndReleaseAll();
    assertReleased();
  }

  private void assertReleased() {
    ch.runPendingTasks();
    assertThat(admission.pending()).as("admission released").isZero();
    assertThat(stats.firstRequestPhase.sum()).as("first-request phase gauge").isZero();
  }

  private String outbound() {
    StringBuilder out = new StringBuilder();
    for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
      out.append(b.toString(StandardCharsets.UTF_8));
      b.release();
    }
    return out.toString();
  }

  private static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }

  private static Inet4Address vip() {
    try {
      return (Inet4Address) InetAddress.getByName("198.18.0.100");
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
