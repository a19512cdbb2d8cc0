package io.baton.handoff;

import static io.baton.handoff.LoopbackFabric.await;
import static io.baton.handoff.LoopbackFabric.failure;
import static io.baton.handoff.LoopbackFabric.loopback;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.FabricMessage.Accepted;
import io.baton.handoff.FabricMessage.Handoff;
import io.baton.handoff.FabricMessage.Hello;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Attacks on a real {@link HandoffServer} (and one on a {@link HandoffClient}) over loopback: wrong
 * key, replays across and within sessions, altered and reflected frames, garbage. In each case the
 * connection is closed, the right counter moves and no forged message is acted on.
 */
class HandoffSecurityTest {
  private static EventLoopGroup group;

  private final ScriptedHandler handler = new ScriptedHandler();
  private HandoffServer server;

  @BeforeAll
  static void startGroup() {
    group = LoopbackFabric.newGroup();
  }

  @AfterAll
  static void stopGroup() {
    LoopbackFabric.shutdown(group);
  }

  @BeforeEach
  void startServer() throws Exception {
    // Raw dispatchers in these tests send no heartbeats: a long liveness keeps them connected.
    server =
        new HandoffServer(
            group,
            loopback(0),
            TestKeys.KEY,
            "server-a",
            handler,
            HandoffServer.DEFAULT_MAX_FRAME_BYTES,
            new Liveness(Duration.ofMinutes(1), Duration.ofMinutes(5)));
    server.start();
  }

  @AfterEach
  void stopServer() {
    server.close();
  }

  private static Handoff handoff(long id) {
    return new Handoff(id, new byte[] {1, 2, 3}, "198.18.0.100:80", "web", "GET /");
  }

  @Test
  void aClientWithTheWrongKeyIsRefusedAndNeverReachesTheHandler() throws Exception {
    RecordingListener listener = new RecordingListener();
    HandoffClient client =
        new HandoffClient(
            group,
            server.localAddress(),
            TestKeys.WRONG_KEY,
            "intruder",
            listener,
            LoopbackFabric.CONNECT_TIMEOUT);
    try {
      HandoffException e = failure(client.connect());

      assertThat(e).hasMessageContaining("before the HELLO exchange completed");
      assertThat(server.authFailures()).isGreaterThanOrEqualTo(1);
      assertThat(server.connectedDispatchers()).isZero();
      assertThat(client.isConnected()).isFalse();
      assertThat(handler.calls).isEmpty();
      assertThat(server.handoffsReceived()).isZero();
    } finally {
      client.close();
    }
  }

  @Test
  void aFrameCapturedInOneSessionIsRefusedInAnother() throws Exception {
    byte[] captured;
    try (RawDispatcher first = new RawDispatcher(server.localAddress(), TestKeys.KEY)) {
      first.handshake();
      captured = first.frames.seal(handoff(1));
      first.send(captured);
      assertThat(first.read()).isEqualTo(new Accepted(1));
    }
    try (RawDispatcher second = new RawDispatcher(server.localAddress(), TestKeys.KEY)) {
      second.handshake();

      // Sequence number 1 is what this session expects next: only the nonces differ.
      second.send(captured);

      assertThat(second.closedByServer()).isTrue();
    }
    assertThat(server.authFailures()).isEqualTo(1);
    assertThat(server.handoffsReceived()).isEqualTo(1);
    assertThat(handler.calls).hasSize(1);
  }

  @Test
  void aFrameReplayedWithinTheSessionIsRefused() throws Exception {
    try (RawDispatcher d = new RawDispatcher(server.localAddress(), TestKeys.KEY).handshake()) {
      byte[] frame = d.frames.seal(handoff(1));
      d.send(frame);
      assertThat(d.read()).isEqualTo(new Accepted(1));

      d.send(frame);

      assertThat(d.closedByServer()).isTrue();
    }
    assertThat(server.authFailures()).isEqualTo(1);
    assertThat(handler.calls).hasSize(1);
  }

  @Test
  void aFrameWithOneFlippedPayloadBitIsRefused() throws Exception {
    try (RawDispatcher d = new RawDispatcher(server.localAddress(), TestKeys.KEY).handshake()) {
      byte[] frame = d.frames.seal(handoff(1));
      frame[frame.length - FabricFrame.TAG_BYTES - 1] ^= 0x01; // last state byte

      d.send(frame);

      assertThat(d.closedByServer()).isTrue();
    }
    assertThat(server.authFailures()).isEqualTo(1);
    assertThat(server.malformedFrames()).isZero();
    assertThat(handler.calls).isEmpty();
  }

  @Test
  void aFrameReflectedBackToTheServerIsRefused() throws Exception {
    try (RawDispatcher d = new RawDispatcher(server.localAddress(), TestKeys.KEY).handshake()) {
      d.send(d.frames.seal(handoff(1)));
      byte[] accepted = d.readFrame();

      d.send(accepted);

      assertThat(d.closedByServer()).isTrue();
    }
    assertThat(server.authFailures()).isEqualTo(1);
  }

  @Test
  void garbageIsClosedAndCountedAsMalformed() throws Exception {
    try (RawDispatcher d = new RawDispatcher(server.localAddress(), TestKeys.KEY)) {
      d.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      assertThat(d.closedByServer()).isTrue();
    }
    assertThat(server.malformedFrames()).isEqualTo(1);
    assertThat(server.authFailures()).isZero();
  }

  @Test
  void anOversizedLengthIsRefusedWithoutWaitingForTheBytes() throws Exception {
    try (RawDispatcher d = new RawDispatcher(server.localAddress(), TestKeys.KEY)) {
      d.send(new byte[] {0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xF0, (byte) 0xBA, 0x70, 1, 2});
      assertThat(d.closedByServer()).isTrue();
    }
    try (RawDispatcher d = new RawDispatcher(server.localAddress(), TestKeys.KEY).handshake()) {
      int tooBig = HandoffServer.DEFAULT_MAX_FRAME_BYTES - 4 + 1;
      d.send(
          new byte[] {
            (byte) (tooBig >>> 24), (byte) (tooBig >>> 16), (byte) (tooBig >>> 8), (byte) tooBig
          });
      assertThat(d.closedByServer()).isTrue();
    }
    assertThat(server.malformedFrames()).isEqualTo(2);
    assertThat(handler.calls).isEmpty();
  }

  /**
   * An impostor server: answers the client's HELLO under {@code agentKey}, then sends {@code
   * afterHello} (already sealed, may be null) and holds the connection until the test ends.
   */
  private static final class RawAgent implements AutoCloseable {
    final ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    final FrameAuthenticator auth;
    private Socket socket;
    private DataInputStream in;
    private OutputStream out;

    RawAgent(byte[] agentKey) throws Exception {
      listener.setSoTimeout(10_000);
      auth = new FrameAuthenticator(agentKey, FrameAuthenticator.AGENT);
    }

    /** Accepts the client and answers its HELLO (read, not verified: we play the attacker). */
    void acceptAndHello() throws Exception {
      socket = listener.accept();
      socket.setSoTimeout(10_000);
      in = new DataInputStream(socket.getInputStream());
      out = socket.getOutputStream();
      byte[] body = readBody();
      byte[] dispatcherNonce =
          Arrays.copyOfRange(
              body, FabricFrame.HEADER_BYTES, FabricFrame.HEADER_BYTES + FabricMessage.NONCE_BYTES);
      auth.bindDispatcherNonce(dispatcherNonce);
      byte[] nonce = new byte[FabricMessage.NONCE_BYTES];
      send(new Hello("impostor", nonce));
      auth.bindAgentNonce(nonce);
    }

    byte[] readBody() throws Exception {
      byte[] body = new byte[in.readInt()];
      in.readFully(body);
      return body;
    }

    void send(FabricMessage m) throws Exception {
      send(seal(m));
    }

    byte[] seal(FabricMessage m) {
      ByteBuf frame = auth.seal(UnpooledByteBufAllocator.DEFAULT, m);
      try {
        return ByteBufUtil.getBytes(frame);
      } finally {
        frame.release();
      }
    }

    void send(byte[] bytes) throws Exception {
      out.write(bytes);
      out.flush();
    }

    @Override
    public void close() throws IOException {
      if (socket != null) socket.close();
      listener.close();
    }
  }

  @Test
  void aServerImpostorWithoutTheKeyIsRefusedByTheClient() throws Exception {
    RecordingListener listener = new RecordingListener();
    try (RawAgent impostor = new RawAgent(TestKeys.WRONG_KEY)) {
      HandoffClient client =
          new HandoffClient(
              group,
              (InetSocketAddress) impostor.listener.getLocalSocketAddress(),
              TestKeys.KEY,
              "dispatcher-1",
              listener,
              LoopbackFabric.CONNECT_TIMEOUT);
      try {
        CompletableFuture<Void> connected = client.connect();
        impostor.acceptAndHello();

        failure(connected);

        assertThat(client.authFailures()).isEqualTo(1);
        assertThat(client.isConnected()).isFalse();
      } finally {
        client.close();
      }
    }
  }

  @Test
  void aForgedAcceptedNeverCompletesAHandoff() throws Exception {
    RecordingListener listener = new RecordingListener();
    try (RawAgent agent = new RawAgent(TestKeys.KEY)) {
      HandoffClient client =
          new HandoffClient(
              group,
              (InetSocketAddress) agent.listener.getLocalSocketAddress(),
              TestKeys.KEY,
              "dispatcher-1",
              listener,
              LoopbackFabric.CONNECT_TIMEOUT);
      try {
        CompletableFuture<Void> connected = client.connect();
        agent.acceptAndHello();
        await(connected);
        CompletableFuture<HandoffReply> reply = client.send(handoff(7), Duration.ofSeconds(30));
        agent.readBody(); // the HANDOFF
        byte[] forged = agent.seal(new Accepted(7));
        forged[forged.length - 1] ^= 0x01; // a tag that does not verify

        agent.send(forged);

        assertThat(failure(reply)).hasMessageContaining("lost before it answered handoff 7");
        assertThat(client.authFailures()).isEqualTo(1);
      } finally {
        client.close();
      }
    }
  }

  @Test
  void rawGarbageNeverBreaksTheServerForOthers() throws Exception {
    for (int i = 0; i < 20; i++) {
      try (RawDispatcher d = new RawDispatcher(server.localAddress(), TestKeys.KEY)) {
        byte[] junk = new byte[64];
        new Random(i).nextBytes(junk);
        d.send(junk);
        assertThat(d.closedByServer()).isTrue();
      }
    }
    try (RawDispatcher d = new RawDispatcher(server.localAddress(), TestKeys.KEY).handshake()) {
      d.send(d.frames.seal(handoff(1)));
      assertThat(d.read()).isEqualTo(new Accepted(1));
    }
    assertThat(server.malformedFrames() + server.authFailures()).isEqualTo(20);
  }
}
