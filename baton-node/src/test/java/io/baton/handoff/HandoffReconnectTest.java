package io.baton.handoff;

import static io.baton.handoff.LoopbackFabric.await;
import static io.baton.handoff.LoopbackFabric.failure;
import static io.baton.handoff.LoopbackFabric.loopback;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.FabricMessage.Accepted;
import io.baton.handoff.FabricMessage.Handoff;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Connection loss and recovery: pending handoffs fail fast, the client reconnects by itself. */
class HandoffReconnectTest {
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

  @AfterEach
  void close() {
    if (client != null) client.close();
    if (server != null) server.close();
  }

  private HandoffServer startServer(InetSocketAddress bind) throws HandoffException {
    HandoffServer s = new HandoffServer(group, bind, TestKeys.KEY, "server-a", handler);
    s.start();
    return s;
  }

  private HandoffClient newClient(InetSocketAddress address) {
    return new HandoffClient(
        group, address, TestKeys.KEY, "dispatcher-1", listener, LoopbackFabric.CONNECT_TIMEOUT);
  }

  private Handoff handoff() {
    return new Handoff(client.nextHandoffId(), new byte[] {1}, "198.18.0.100:80", "web", "");
  }

  @Test
  void theClientReconnectsAfterAServerRestart() throws Exception {
    server = startServer(loopback(0));
    InetSocketAddress address = server.localAddress();
    client = newClient(address);
    await(client.connect());
    listener.expectState(true);

    server.close();
    listener.expectState(false);
    assertThat(client.isConnected()).isFalse();
    server = startServer(address);
    listener.expectState(true);

    Handoff h = handoff();
    assertThat(await(client.send(h, Duration.ofSeconds(5)))).isEqualTo(new Accepted(h.handoffId()));
  }

  @Test
  void aPendingHandoffFailsAsSoonAsTheConnectionDrops() throws Exception {
    server = startServer(loopback(0));
    client = newClient(server.localAddress());
    await(client.connect());
    handler.answer(h -> new CompletableFuture<>()); // never answers
    Handoff h = handoff();
    CompletableFuture<HandoffReply> reply = client.send(h, Duration.ofMinutes(5));
    RecordingListener.take(handler.calls);

    long startNs = System.nanoTime();
    server.close();
    HandoffException e = failure(reply);

    assertThat(e)
        .hasMessage(
            "connection to server "
                + FabricFrame.text(server.localAddress())
                + " lost before it answered handoff "
                + h.handoffId());
    assertThat(Duration.ofNanos(System.nanoTime() - startNs)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void closingTheClientFailsPendingHandoffs() throws Exception {
    server = startServer(loopback(0));
    client = newClient(server.localAddress());
    await(client.connect());
    handler.answer(h -> new CompletableFuture<>());
    Handoff h = handoff();
    CompletableFuture<HandoffReply> reply = client.send(h, Duration.ofMinutes(5));
    RecordingListener.take(handler.calls);

    client.close();

    assertThat(failure(reply)).hasMessageContaining("closed before handoff " + h.handoffId());
    assertThat(failure(client.connect())).hasMessageContaining("is closed");
  }

  @Test
  void aClientStartedBeforeItsServerKeepsTryingUntilItComes() throws Exception {
    InetSocketAddress address;
    try (ServerSocket probe = new ServerSocket(0, 1, loopback(0).getAddress())) {
      address = loopback(probe.getLocalPort()); // free once the probe closes
    }
    client = newClient(address);

    assertThat(failure(client.connect())).hasMessageContaining("cannot connect to server");
    server = startServer(address);

    listener.expectState(true);
    Handoff h = handoff();
    assertThat(await(client.send(h, Duration.ofSeconds(5)))).isEqualTo(new Accepted(h.handoffId()));
  }
}
