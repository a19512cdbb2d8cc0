package io.baton.handoff;

import static io.baton.handoff.LoopbackFabric.await;
import static io.baton.handoff.LoopbackFabric.failure;
import static io.baton.handoff.LoopbackFabric.loopback;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.handoff.FabricMessage.Accepted;
import io.baton.handoff.FabricMessage.Closed;
import io.baton.handoff.FabricMessage.Handoff;
import io.baton.handoff.FabricMessage.LoadReport;
import io.baton.handoff.FabricMessage.Refused;
import io.baton.transplant.FlowKey;
import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A {@link HandoffClient} and a {@link HandoffServer} talking over loopback. */
class HandoffEndToEndTest {
  private static EventLoopGroup group;

  private final ScriptedHandler handler = new ScriptedHandler();
  private final RecordingListener listener = new RecordingListener();
  private HandoffServer server;
  private HandoffClient client;

  @BeforeAll
  static void startGroup() {
    group = LoopbackFabric.newGroup();
  }

  @AfterAll
  static void stopGroup() {
    LoopbackFabric.shutdown(group);
  }

  @BeforeEach
  void connect() throws Exception {
    server = new HandoffServer(group, loopback(0), TestKeys.KEY, "server-a", handler);
    server.start();
    client = newClient(HandoffServer.DEFAULT_MAX_FRAME_BYTES);
    await(client.connect());
    listener.expectState(true);
  }

  @AfterEach
  void close() {
    if (client != null) client.close();
    if (server != null) server.close();
  }

  private HandoffClient newClient(int maxFrameBytes) {
    return new HandoffClient(
        group,
        server.localAddress(),
        TestKeys.KEY,
        "dispatcher-1",
        listener,
        LoopbackFabric.CONNECT_TIMEOUT,
        maxFrameBytes);
  }

  private Handoff handoff(byte[] state) {
    return new Handoff(client.nextHandoffId(), state, "198.18.0.100:80", "web", "GET /x host=y");
  }

  @Test
  void everySessionStartsWithTheServersInventory() throws Exception {
    FabricMessage.Inventory first = RecordingListener.take(listener.inventories);
    assertThat(first).isEqualTo(new FabricMessage.Inventory(java.util.List.of(), true));

    // 20,000 owned connections cross in frames of at most 8192, the last one marked.
    var owned = new java.util.ArrayList<FabricMessage.Owned>();
    for (int i = 0; i < 20_000; i++) {
      owned.add(
          new FabricMessage.Owned(
              new io.baton.transplant.FlowKey(
                  FabricMessageCodecTest.ip("198.18.0.7"),
                  1 + i % 60_000,
                  FabricMessageCodecTest.ip("198.18.0.100"),
                  80 + i / 60_000),
              i + 1));
    }
    handler.inventory = owned;
    client.close();
    listener.expectState(false);
    client = newClient(HandoffServer.DEFAULT_MAX_FRAME_BYTES);
    await(client.connect());
    var frames = new java.util.ArrayList<FabricMessage.Inventory>();
    do {
      frames.add(RecordingListener.take(listener.inventories));
    } while (!frames.getLast().last());
    assertThat(frames).extracting(f -> f.owned().size()).containsExactly(8192, 8192, 3616);
    assertThat(frames.stream().flatMap(f -> f.owned().stream()).toList()).isEqualTo(owned);
  }

  @Test
  void anAbortIsAnsweredWithTheDecisionOrAborted() throws Exception {
    Handoff taken = handoff(new byte[] {1});
    assertThat(await(client.send(taken, Duration.ofSeconds(5))))
        .isEqualTo(new Accepted(taken.handoffId()));

    // An abort that crosses a decision under way waits for it: the decision answers both.
    var decision = new java.util.concurrent.CompletableFuture<HandoffReply>();
    long undecided = client.nextHandoffId();
    handler.answer(
        h ->
            h.handoffId() == undecided
                ? decision
                : java.util.concurrent.CompletableFuture.completedFuture(
                    new Accepted(h.handoffId())));
    var reply =
        client.send(new Handoff(undecided, new byte[] {2}, "198.18.0.100:80", "web", "GET /"));
    RecordingListener.take(handler.calls);
    RecordingListener.take(handler.calls);
    assertThat(client.abort(undecided)).isTrue();
    // A barrier: the server handles frames in order, so once the answer to a later HANDOFF is
    // here, any (wrong) answer to the ABORT would have arrived before it.
    long barrier = client.nextHandoffId();
    assertThat(
            await(
                client.send(
                    new Handoff(barrier, new byte[] {9}, "198.18.0.100:80", "web", "GET /"))))
        .isEqualTo(new Accepted(barrier));
    RecordingListener.take(handler.calls);
    assertThat(reply).as("no ABORTED while the restore is under way").isNotDone();
    decision.complete(new Accepted(undecided));
    assertThat(await(reply)).isEqualTo(new Accepted(undecided));

    // A raw dispatcher can ask what a real one only asks after a timeout: an ABORT of a handoff
    // the server took is answered ACCEPTED again; of one it never saw, ABORTED.
    handler.answer(
        h -> java.util.concurrent.CompletableFuture.completedFuture(new Accepted(h.handoffId())));
    try (RawDispatcher raw = new RawDispatcher(server.localAddress(), TestKeys.KEY).handshake()) {
      raw.send(
          raw.frames().seal(new Handoff(7001, new byte[] {3}, "198.18.0.100:80", "web", "GET /")));
      assertThat(readAnswer(raw)).isEqualTo(new Accepted(7001));
      raw.send(raw.frames().seal(new FabricMessage.Abort(7001)));
      assertThat(readAnswer(raw)).isEqualTo(new Accepted(7001));
      raw.send(raw.frames().seal(new FabricMessage.Abort(424242)));
      assertThat(readAnswer(raw)).isEqualTo(new FabricMessage.Aborted(424242));
    }
  }

  private static FabricMessage readAnswer(RawDispatcher raw) throws Exception {
    FabricMessage m;
    do {
      m = raw.read();
    } while (m instanceof FabricMessage.Heartbeat);
    return m;
  }

  @Test
  void aHandoffBiggerThanTheServerAcceptsFailsUnsentAndTheSessionStays() throws Exception {
    HandoffServer small =
        new HandoffServer(group, loopback(0), TestKeys.KEY, "server-small", handler, 64 * 1024);
    small.start();
    RecordingListener smallListener = new RecordingListener();
    HandoffClient big =
        new HandoffClient(
            group,
            small.localAddress(),
            TestKeys.KEY,
            "dispatcher-1",
            smallListener,
            LoopbackFabric.CONNECT_TIMEOUT,
            HandoffServer.DEFAULT_MAX_FRAME_BYTES);
    try {
      await(big.connect());
      smallListener.expectState(true);
      Handoff huge =
          new Handoff(big.nextHandoffId(), new byte[100 * 1024], "198.18.0.100:80", "web", "");
      assertThat(big.send(huge))
          .failsWithin(Duration.ofSeconds(5))
          .withThrowableThat()
          .havingCause()
          .isInstanceOfSatisfying(
              HandoffException.class,
              e -> {
                assertThat(e.maybeDelivered()).isFalse();
                assertThat(e.getMessage()).contains("65536 bytes it accepts");
              });
      Handoff fits = new Handoff(big.nextHandoffId(), new byte[1024], "198.18.0.100:80", "web", "");
      assertThat(await(big.send(fits, Duration.ofSeconds(5))))
          .isEqualTo(new Accepted(fits.handoffId()));
      assertThat(small.malformedFrames()).isZero();
    } finally {
      big.close();
      small.close();
    }
  }

  @Test
  void aForgottenHandoffFailsAsMaybeDelivered() throws Exception {
    handler.answer(h -> new java.util.concurrent.CompletableFuture<>());
    Handoff h = handoff(new byte[] {1});
    var reply = client.send(h);
    client.forget(h.handoffId(), "gave up");
    assertThat(reply)
        .failsWithin(Duration.ofSeconds(5))
        .withThrowableThat()
        .havingCause()
        .isInstanceOfSatisfying(
            HandoffException.class,
            e -> {
              assertThat(e.maybeDelivered()).isTrue();
              assertThat(e.getMessage()).isEqualTo("gave up");
            });
  }

  @Test
  void aHandoffWithoutSessionFailsAsNotDelivered() throws Exception {
    client.close();
    var reply = client.send(handoff(new byte[] {1}));
    assertThat(reply)
        .failsWithin(Duration.ofSeconds(5))
        .withThrowableThat()
        .havingCause()
        .isInstanceOfSatisfying(
            HandoffException.class, e -> assertThat(e.maybeDelivered()).isFalse());
  }

  @Test
  void anAcceptedHandoffArrivesIntactAndIsAnswered() throws Exception {
    Handoff h = handoff(new byte[] {1, 2, 3});

    HandoffReply reply = await(client.send(h, Duration.ofSeconds(5)));

    assertThat(reply).isEqualTo(new Accepted(h.handoffId()));
    ScriptedHandler.Call call = RecordingListener.take(handler.calls);
    assertThat(call.handoff()).isEqualTo(h);
    assertThat(call.fromNode()).isEqualTo("dispatcher-1");
    assertThat(server.handoffsReceived()).isEqualTo(1);
    assertThat(server.connectedDispatchers()).isEqualTo(1);
    assertThat(client.isConnected()).isTrue();
  }

  @Test
  void aRefusalCarriesItsReason() throws Exception {
    handler.answer(h -> CompletableFuture.completedFuture(new Refused(h.handoffId(), "pool full")));
    Handoff h = handoff(new byte[] {1});

    assertThat(await(client.send(h, Duration.ofSeconds(5))))
        .isEqualTo(new Refused(h.handoffId(), "pool full"));
  }

  @Test
  void handlerFailuresBecomeRefusalsWithTheirMessage() throws Exception {
    handler.answer(
        h -> {
          throw new IllegalStateException("restore failed: EADDRINUSE");
        });
    Handoff thrown = handoff(new byte[] {1});
    assertThat(await(client.send(thrown, Duration.ofSeconds(5))))
        .isEqualTo(new Refused(thrown.handoffId(), "restore failed: EADDRINUSE"));

    handler.answer(
        h ->
            CompletableFuture.supplyAsync(
                () -> {
                  throw new IllegalArgumentException("no route to VIP");
                }));
    Handoff failed = handoff(new byte[] {2});
    assertThat(await(client.send(failed, Duration.ofSeconds(5))))
        .isEqualTo(new Refused(failed.handoffId(), "no route to VIP"));

    handler.answer(h -> null);
    Handoff nothing = handoff(new byte[] {3});
    assertThat(await(client.send(nothing, Duration.ofSeconds(5))))
        .isInstanceOfSatisfying(Refused.class, r -> assertThat(r.reason()).contains("no future"));
  }

  @Test
  void aReplyIsMatchedToItsHandoffWhateverIdTheHandlerUsed() throws Exception {
    handler.answer(h -> CompletableFuture.completedFuture(new Accepted(999)));
    Handoff h = handoff(new byte[] {1});

    assertThat(await(client.send(h, Duration.ofSeconds(5)))).isEqualTo(new Accepted(h.handoffId()));
  }

  @Test
  void broadcastsReachTheListener() throws Exception {
    Closed closed =
        new Closed(
            new FlowKey(
                FabricMessageCodecTest.ip("198.18.0.7"),
                40000,
                FabricMessageCodecTest.ip("198.18.0.100"),
                80),
            4,
            512,
            1_048_576);
    LoadReport load = new LoadReport("server-a", 3, 10, 7);

    server.broadcast(closed);
    server.broadcast(load);

    assertThat(RecordingListener.take(listener.closed)).isEqualTo(closed);
    assertThat(RecordingListener.take(listener.loadReports)).isEqualTo(load);
  }

  @Test
  void aHandoffWithNoAnswerTimesOutWithAClearMessage() throws Exception {
    handler.answer(h -> new CompletableFuture<>()); // never answers
    Handoff h = handoff(new byte[] {1});

    HandoffException e = failure(client.send(h, Duration.ofMillis(200)));

    assertThat(e)
        .hasMessage(
            "server "
                + FabricFrame.text(server.localAddress())
                + " did not answer handoff "
                + h.handoffId()
                + " within 200 ms");
    assertThat(client.isConnected()).isTrue();
  }

  @Test
  void aLargeStateArrivesByteExact() throws Exception {
    byte[] state = new byte[24 << 20];
    new Random(5).nextBytes(state);
    Handoff h = handoff(state);

    assertThat(await(client.send(h, Duration.ofSeconds(10))))
        .isEqualTo(new Accepted(h.handoffId()));
    assertThat(RecordingListener.take(handler.calls).handoff().state()).isEqualTo(state);
  }

  @Test
  void aHandoffAboveTheFrameLimitFailsAtTheClient() throws Exception {
    client.close();
    listener.expectState(false);
    client = newClient(EndpointSettings.MIN_FRAME_BYTES);
    await(client.connect());

    HandoffException e = failure(client.send(handoff(new byte[20_000]), Duration.ofSeconds(5)));

    assertThat(e).hasMessageContaining("frame limit");
    assertThat(handler.calls).isEmpty();
  }

  @Test
  void concurrentHandoffsAreEachAnsweredOnce() throws Exception {
    handler.answer(
        h ->
            CompletableFuture.completedFuture(
                h.handoffId() % 2 == 0
                    ? new Accepted(h.handoffId())
                    : new Refused(h.handoffId(), "odd")));
    List<Handoff> sent = new ArrayList<>();
    List<CompletableFuture<HandoffReply>> replies = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      Handoff h = handoff(new byte[] {(byte) i});
      sent.add(h);
      replies.add(client.send(h, Duration.ofSeconds(10)));
    }
    for (int i = 0; i < sent.size(); i++) {
      long id = sent.get(i).handoffId();
      assertThat(await(replies.get(i)).handoffId()).isEqualTo(id);
      assertThat(replies.get(i).join()).isInstanceOf(id % 2 == 0 ? Accepted.class : Refused.class);
    }
    assertThat(server.handoffsReceived()).isEqualTo(200);
  }

  @Test
  void handoffIdsIncreaseAndADuplicatePendingIdIsRefused() throws Exception {
    long first = client.nextHandoffId();
    assertThat(client.nextHandoffId()).isEqualTo(first + 1);
    handler.answer(h -> new CompletableFuture<>());
    Handoff h = handoff(new byte[] {1});
    CompletableFuture<HandoffReply> pending = client.send(h, Duration.ofSeconds(10));

    HandoffException e = failure(client.send(h, Duration.ofSeconds(10)));

    assertThat(e).hasMessageContaining("already pending");
    assertThat(pending).isNotDone();
  }

  @Test
  void sendingWhileNotConnectedFailsAtOnce() throws Exception {
    HandoffClient idle = newClient(HandoffServer.DEFAULT_MAX_FRAME_BYTES);
    try {
      HandoffException e = failure(idle.send(handoff(new byte[] {1}), Duration.ofSeconds(5)));
      assertThat(e).hasMessageContaining("is not connected; handoff");
    } finally {
      idle.close();
    }
  }

  @Test
  void broadcastOnlyTakesServerEvents() {
    assertThatThrownBy(() -> server.broadcast(new Accepted(1)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
