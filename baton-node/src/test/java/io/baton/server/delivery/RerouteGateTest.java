package io.baton.server.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.routing.RequestHead;
import io.baton.transplant.FlowKey;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The per-request gate on an embedded channel, with a fake placement: /b/ belongs elsewhere. */
class RerouteGateTest {
  private final List<String> moves = new ArrayList<>();
  private CompletableFuture<Boolean> move = new CompletableFuture<>();
  private final RerouteGate.Counters counters = new RerouteGate.Counters();
  private final EmbeddedChannel ch =
      new EmbeddedChannel(
          new RerouteGate(
              new RerouteGate.Placement() {
                @Override
                public Optional<String> elsewhere(RequestHead head) {
                  return head.path().startsWith("/b/") ? Optional.of("b") : Optional.empty();
                }

                @Override
                public CompletableFuture<Boolean> move(FlowKey flow, String pool) {
                  moves.add(pool);
                  return move;
                }
              },
              flow(),
              16_384,
              counters));

  @AfterEach
  void close() {
    ch.finishAndReleaseAll();
  }

  private static FlowKey flow() {
    try {
      return new FlowKey(
          (Inet4Address) InetAddress.getByName("198.18.0.10"),
          40000,
          (Inet4Address) InetAddress.getByName("198.18.0.100"),
          80);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private void send(String s) {
    ch.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
    ch.runPendingTasks();
  }

  /** What the application has been given so far. */
  private String passed() {
    StringBuilder out = new StringBuilder();
    for (Object o; (o = ch.readInbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      out.append(b.toString(StandardCharsets.US_ASCII));
      b.release();
    }
    return out.toString();
  }

  private RerouteGate gate() {
    return ch.pipeline().get(RerouteGate.class);
  }

  @Test
  void requestsOfThisPoolPassWholeEvenSplitAcrossReads() {
    send("GET /a/1 HTTP/1.1\r\nHo");
    assertThat(passed()).as("half a head waits").isEmpty();
    send("st: x\r\n\r\nGET /a/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(passed())
        .isEqualTo("GET /a/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /a/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(moves).isEmpty();
  }

  @Test
  void aBodyIsFramedByContentLengthSoItsBytesAreNeverTakenForAHead() {
    send("POST /a/x HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\nGET /b/ HTTP/1.1");
    assertThat(moves).as("the body is not a request").isEmpty();
    send("GET /b/y HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(moves).containsExactly("b");
    assertThat(passed()).endsWith("GET /b/ HTTP/1.1");
  }

  @Test
  void aRequestOfAnotherPoolStopsHereWithReadingOffAndTravelsUnread() {
    send("GET /a/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /b/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /a/3");
    assertThat(passed()).isEqualTo("GET /a/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(moves).containsExactly("b");
    assertThat(ch.config().isAutoRead()).isFalse();
    assertThat(new String(gate().held(), StandardCharsets.US_ASCII))
        .isEqualTo("GET /b/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /a/3");
    move.complete(true);
    ch.runPendingTasks();
    assertThat(counters.moved.sum()).isEqualTo(1);
    assertThat(passed()).isEmpty();
  }

  @Test
  void aRequestThatCannotMoveIsServedHereInOrder() {
    send("GET /b/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /a/3 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(passed()).isEmpty();
    move.complete(false);
    ch.runPendingTasks();
    assertThat(passed())
        .isEqualTo("GET /b/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /a/3 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(counters.servedHere.sum()).isEqualTo(1);
    assertThat(ch.config().isAutoRead()).isTrue();
  }

  @Test
  void aChunkedBodyEndsTheRoutingOfTheConnection() {
    send(
        "POST /a/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            + "GET /b/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(moves).isEmpty();
    assertThat(passed()).endsWith("GET /b/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(counters.unrouted.sum()).isEqualTo(1);
  }

  @Test
  void anUnparsableHeadPassesToTheApplicationToAnswer() {
    send("NOT HTTP AT ALL\r\n\r\n");
    assertThat(passed()).isEqualTo("NOT HTTP AT ALL\r\n\r\n");
    assertThat(moves).isEmpty();
  }
}
