package io.baton.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.FabricMessage.Accepted;
import io.baton.handoff.FabricMessage.Handoff;
import io.baton.handoff.FabricMessage.Hello;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The server agent's {@link FabricSession} (with its {@link FrameDecoder}) fed bytes directly
 * through an {@link EmbeddedChannel}: HELLO, framing, every refusal path, fuzz.
 */
class FabricSessionTest {
  private static final int MAX_FRAME_BYTES = 64 * 1024;

  /** An agent session in an embedded channel, recording what it delivers. */
  private static final class Agent implements FabricSession.Events {
    final FabricCounters counters = new FabricCounters();
    final List<FabricMessage> delivered = new ArrayList<>();
    final EmbeddedChannel channel;
    String establishedWith;
    RuntimeException throwOnMessage;

    Agent() {
      FrameDecoder decoder = new FrameDecoder();
      EndpointSettings settings = new EndpointSettings(TestKeys.KEY, "agent", MAX_FRAME_BYTES);
      channel =
          new EmbeddedChannel(
              decoder, new FabricSession(false, settings, decoder, counters, 10_000, this));
    }

    @Override
    public void onEstablished(Channel ch, String peerNode) {
      establishedWith = peerNode;
    }

    @Override
    public void onMessage(Channel ch, String peerNode, FabricMessage message) {
      delivered.add(message);
      if (throwOnMessage != null) throw throwOnMessage;
    }

    void feed(byte[] bytes) {
      channel.writeInbound(Unpooled.wrappedBuffer(bytes));
      channel.checkException();
    }

    /** Completes the HELLO exchange as {@code d}. */
    void handshake(DispatcherFrames d) throws Exception {
      feed(d.hello("d1"));
      assertThat(d.open(readOutbound())).isInstanceOf(Hello.class);
      assertThat(establishedWith).isEqualTo("d1");
    }

    byte[] readOutbound() {
      ByteBuf out = channel.readOutbound();
      assertThat(out).as("outbound frame").isNotNull();
      try {
        return ByteBufUtil.getBytes(out);
      } finally {
        out.release();
      }
    }

    long refusals() {
      return counters.authFailures.sum() + counters.malformedFrames.sum();
    }
  }

  private static Handoff handoff(long id) {
    return new Handoff(id, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, "198.18.0.100:80", "web", "GET /");
  }

  @Test
  void heartbeatsFlowAndASilentPeerIsDeclaredDead() throws Exception {
    Agent agent = new Agent();
    agent.channel.freezeTime();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);

    // Silent on our side for a heartbeat period: we send a HEARTBEAT.
    agent.channel.advanceTimeBy(250, java.util.concurrent.TimeUnit.MILLISECONDS);
    agent.channel.runScheduledPendingTasks();
    assertThat(d.open(agent.readOutbound())).isInstanceOf(FabricMessage.Heartbeat.class);

    // The peer's heartbeats keep the session up well past the dead-after time.
    for (int i = 0; i < 10; i++) {
      agent.feed(d.seal(new FabricMessage.Heartbeat()));
      agent.channel.advanceTimeBy(200, java.util.concurrent.TimeUnit.MILLISECONDS);
      agent.channel.runScheduledPendingTasks();
    }
    assertThat(agent.channel.isOpen()).isTrue();
    assertThat(agent.delivered).as("heartbeats are not passed on").isEmpty();

    // Then a second of silence: the session is closed and counted.
    agent.channel.advanceTimeBy(1100, java.util.concurrent.TimeUnit.MILLISECONDS);
    agent.channel.runScheduledPendingTasks();
    assertThat(agent.channel.isOpen()).isFalse();
    assertThat(agent.counters.silentPeers.sum()).isEqualTo(1);
    assertThat(agent.refusals()).isZero();
  }

  @Test
  void deliversAHandoffAfterTheHelloExchange() throws Exception {
    Agent agent = new Agent();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);

    agent.feed(d.seal(handoff(1)));
    agent.feed(d.seal(handoff(2)));

    assertThat(agent.delivered).containsExactly(handoff(1), handoff(2));
    assertThat(agent.channel.isOpen()).isTrue();
    assertThat(agent.refusals()).isZero();
  }

  @Test
  void reassemblesFramesSplitAndJoinedArbitrarily() throws Exception {
    Agent agent = new Agent();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);
    byte[] a = d.seal(handoff(1));
    byte[] b = d.seal(handoff(2));
    byte[] both = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, both, a.length, b.length);

    for (byte x : Arrays.copyOf(both, a.length + 5)) agent.feed(new byte[] {x});
    agent.feed(Arrays.copyOfRange(both, a.length + 5, both.length));

    assertThat(agent.delivered).containsExactly(handoff(1), handoff(2));
  }

  @Test
  void hugeLengthIsRefusedFromItsFourBytesAlone() {
    Agent agent = new Agent();
    agent.feed(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xF0});

    assertThat(agent.channel.isOpen()).isFalse();
    assertThat(agent.counters.malformedFrames.sum()).isEqualTo(1);
  }

  @Test
  void beforeHelloOnlyHelloSizedFramesAreAccepted() {
    Agent agent = new Agent();
    agent.feed(new byte[] {0, 0, 2, 1}); // 513: a valid size once established, not before

    assertThat(agent.channel.isOpen()).isFalse();
    assertThat(agent.counters.malformedFrames.sum()).isEqualTo(1);
  }

  @Test
  void afterHelloTheConfiguredLimitApplies() throws Exception {
    Agent agent = new Agent();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);
    agent.feed(new byte[] {0, 0, 0x40, 0, (byte) 0xBA, 0x70, 1, 2}); // 16 KiB: fine, wait for it
    assertThat(agent.channel.isOpen()).isTrue();

    Agent other = new Agent();
    DispatcherFrames d2 = new DispatcherFrames(TestKeys.KEY);
    other.handshake(d2);
    other.feed(new byte[] {0, 1, 0, 0}); // 64 KiB + the length field: one byte too many
    assertThat(other.channel.isOpen()).isFalse();
    assertThat(other.counters.malformedFrames.sum()).isEqualTo(1);
  }

  @Test
  void badMagicVersionAndTypeAreMalformed() {
    byte[] hello = new DispatcherFrames(TestKeys.KEY).hello("d1");
    for (int[] patch : new int[][] {{4, 0xBB}, {5, 0x71}, {6, 2}, {6, 0}, {7, 0}, {7, 12}}) {
      Agent agent = new Agent();
      byte[] bad = hello.clone();
      bad[patch[0]] = (byte) patch[1];
      agent.feed(bad);
      assertThat(agent.channel.isOpen()).as("patch %s", Arrays.toString(patch)).isFalse();
      assertThat(agent.counters.malformedFrames.sum()).isEqualTo(1);
      assertThat(agent.counters.authFailures.sum()).isZero();
    }
  }

  @Test
  void helloUnderTheWrongKeyIsAnAuthFailure() {
    Agent agent = new Agent();
    agent.feed(new DispatcherFrames(TestKeys.WRONG_KEY).hello("d1"));

    assertThat(agent.channel.isOpen()).isFalse();
    assertThat(agent.counters.authFailures.sum()).isEqualTo(1);
    assertThat(agent.establishedWith).isNull();
    Object answer = agent.channel.readOutbound();
    assertThat(answer).as("no HELLO answered").isNull();
  }

  @Test
  void aHandoffInPlaceOfTheHelloIsRefused() {
    Agent agent = new Agent();
    agent.feed(new DispatcherFrames(TestKeys.KEY).seal(handoff(1)));

    assertThat(agent.channel.isOpen()).isFalse();
    assertThat(agent.counters.malformedFrames.sum()).isEqualTo(1);
    assertThat(agent.delivered).isEmpty();
  }

  @Test
  void aSecondHelloAndAServerOnlyTypeAreRefused() throws Exception {
    Agent agent = new Agent();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);
    agent.feed(d.seal(new Hello("d1", new byte[16])));
    assertThat(agent.channel.isOpen()).isFalse();

    Agent other = new Agent();
    DispatcherFrames d2 = new DispatcherFrames(TestKeys.KEY);
    other.handshake(d2);
    other.feed(d2.seal(new Accepted(1)));
    assertThat(other.channel.isOpen()).isFalse();
    assertThat(agent.counters.malformedFrames.sum() + other.counters.malformedFrames.sum())
        .isEqualTo(2);
  }

  @Test
  void aFlippedPayloadBitIsAnAuthFailure() throws Exception {
    Agent agent = new Agent();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);
    byte[] frame = d.seal(handoff(1));
    frame[4 + FabricFrame.HEADER_BYTES + 3] ^= 0x10;

    agent.feed(frame);

    assertThat(agent.channel.isOpen()).isFalse();
    assertThat(agent.counters.authFailures.sum()).isEqualTo(1);
    assertThat(agent.delivered).isEmpty();
  }

  @Test
  void aReplayedFrameIsAnAuthFailure() throws Exception {
    Agent agent = new Agent();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);
    byte[] frame = d.seal(handoff(1));

    agent.feed(frame);
    agent.feed(frame);

    assertThat(agent.delivered).containsExactly(handoff(1));
    assertThat(agent.channel.isOpen()).isFalse();
    assertThat(agent.counters.authFailures.sum()).isEqualTo(1);
  }

  @Test
  void aReflectedFrameIsAnAuthFailure() throws Exception {
    Agent agent = new Agent();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);
    agent.channel.writeOutbound(new FabricMessage.Refused(1, "busy"));
    byte[] sentByAgent = agent.readOutbound();
    assertThat(d.open(sentByAgent)).isEqualTo(new FabricMessage.Refused(1, "busy"));

    agent.feed(sentByAgent);

    assertThat(agent.channel.isOpen()).isFalse();
    assertThat(agent.counters.authFailures.sum()).isEqualTo(1);
  }

  @Test
  void writesFailUntilEstablishedAndForMessagesThisSideDoesNotSend() throws Exception {
    Agent agent = new Agent();
    ChannelFuture early = agent.channel.writeAndFlush(new Accepted(1));
    assertThat(early.cause())
        .isInstanceOf(HandoffException.class)
        .hasMessageContaining("not established");

    agent.handshake(new DispatcherFrames(TestKeys.KEY));
    assertThat(agent.channel.writeAndFlush(new Accepted(1)).isSuccess()).isTrue();
    assertThat(agent.channel.writeAndFlush(new Hello("x", new byte[16])).cause())
        .isInstanceOf(HandoffException.class);
    assertThat(agent.channel.writeAndFlush(handoff(1)).cause())
        .isInstanceOf(HandoffException.class)
        .hasMessageContaining("HANDOFF");
  }

  @Test
  void aFailingEventHandlerDoesNotCloseTheConnection() throws Exception {
    Agent agent = new Agent();
    DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
    agent.handshake(d);
    agent.throwOnMessage = new IllegalStateException("handler bug");

    agent.feed(d.seal(handoff(1)));
    agent.feed(d.seal(handoff(2)));

    assertThat(agent.delivered).hasSize(2);
    assertThat(agent.channel.isOpen()).isTrue();
  }

  /**
   * Random byte flips anywhere in a valid HELLO or HANDOFF frame: never delivered, never an
   * unchecked exception; either refused and counted once, or (a length grown within limits) still
   * waiting for bytes that will never come.
   */
  @Test
  void fuzzedFramesAreRefusedOrIgnoredNeverDelivered() throws Exception {
    long seed = 20261123L;
    Random random = new Random(seed);
    int closed = 0;
    for (int i = 0; i < 600; i++) {
      Agent agent = new Agent();
      DispatcherFrames d = new DispatcherFrames(TestKeys.KEY);
      boolean fuzzHello = i % 3 == 0;
      byte[] frame;
      if (fuzzHello) {
        frame = d.hello("d1");
      } else {
        agent.handshake(d);
        frame = d.seal(handoff(i));
      }
      for (int k = 1 + random.nextInt(3); k > 0; k--) {
        frame[random.nextInt(frame.length)] ^= (byte) (1 + random.nextInt(255));
      }

      agent.feed(frame);

      String what = "iteration " + i + " (seed " + seed + ")";
      assertThat(agent.delivered).as(what).isEmpty();
      assertThat(agent.counters.unexpectedErrors.sum()).as(what).isZero();
      if (fuzzHello) assertThat(agent.establishedWith).as(what).isNull();
      if (agent.channel.isOpen()) {
        assertThat(agent.refusals()).as(what).isZero();
      } else {
        assertThat(agent.refusals()).as(what).isEqualTo(1);
        closed++;
      }
      agent.channel.finishAndReleaseAll();
    }
    assertThat(closed).isGreaterThan(500);
  }
}
