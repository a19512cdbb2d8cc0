package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.dataplane.Vip;
import io.baton.routing.LoadTable;
import io.baton.routing.Router;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The first-request phase of one connection on a fake connection with a manual clock: every way the
 * phase ends releases the admission exactly once, the timers run from accept, and the dispatcher's
 * own answers say nothing about the farm. No handoff happens here (the VIP has no pool, so a
 * complete head ends in the coordinator's 503).
 */
class FirstRequestTest {
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

  /** Time, frozen unless a test advances it, and the tasks scheduled against it. */
  private long nowNs;

  private final List<Timer> timers = new ArrayList<>();

  private record Timer(long dueNs, Runnable task, boolean[] cancelled) {}

  /** What the phase did to its connection. */
  private final class FakeConnection implements FirstRequest.Connection {
    final StringBuilder answers = new StringBuilder();
    boolean reading = true;
    boolean open = true;
    boolean lingering;
    FirstRequest phase;

    @Override
    public InetAddress clientIp() {
      return CLIENT.getAddress();
    }

    @Override
    public String describe() {
      return CLIENT.toString();
    }

    @Override
    public void stopReading() {
      reading = false;
    }

    @Override
    public Runnable schedule(Runnable task, long delayNs) {
      boolean[] cancelled = {false};
      timers.add(new Timer(nowNs + delayNs, task, cancelled));
      return () -> cancelled[0] = true;
    }

    @Override
    public void answer(int status, String reason, String detail) {
      answers.append(Responses.text(status, reason, detail));
      lingerClose();
    }

    @Override
    public void lingerClose() {
      reading = false;
      lingering = true;
    }

    @Override
    public void close() {
      reading = false;
      open = false;
    }

    @Override
    public ClientSide toClient(byte[] read) {
      FakeConnection self = this;
      return new ClientSide() {
        @Override
        public io.baton.transplant.FlowKey flow() {
          return io.baton.transplant.FlowKey.of(
              CLIENT, new InetSocketAddress(site.vip().address(), site.vip().port()));
        }

        @Override
        public int fd() {
          return -1;
        }

        @Override
        public boolean isOpen() {
          return self.open;
        }

        @Override
        public byte[] alreadyRead() {
          return read;
        }

        @Override
        public void execute(Runnable task) {
          task.run();
        }

        @Override
        public Runnable schedule(Runnable task, long delayNs) {
          return self.schedule(task, delayNs);
        }

        @Override
        public boolean serveLocally() {
          return false;
        }

        @Override
        public void close() {
          self.close();
        }

        @Override
        public void reset() {
          self.close();
        }

        @Override
        public boolean answerUnavailable() {
          self.answer(503, "Service Unavailable", Responses.UNAVAILABLE_DETAIL);
          return true;
        }
      };
    }

    void send(String ascii) {
      assertThat(reading).as("still reading").isTrue();
      byte[] b = ascii.getBytes(StandardCharsets.US_ASCII);
      phase.onBytes(b, 0, b.length);
    }
  }

  private FakeConnection connect() {
    FakeConnection c = new FakeConnection();
    c.phase = new FirstRequest(new FirstRequest.Shared(site, coordinator, stats, admission, 5), c);
    c.reading = c.phase.opened();
    return c;
  }

  /** Advances the clock by {@code ms} and runs every timer due by then, in due order. */
  private void advance(long ms) {
    long until = nowNs + TimeUnit.MILLISECONDS.toNanos(ms);
    for (; ; ) {
      Timer next = null;
      for (Timer t : timers) {
        if (t.dueNs() <= until && (next == null || t.dueNs() < next.dueNs())) next = t;
      }
      if (next == null) break;
      timers.remove(next);
      nowNs = Math.max(nowNs, next.dueNs()); // a timer runs at its due time
      if (!next.cancelled()[0]) next.task().run();
    }
    nowNs = until;
  }

  @Test
  void anIdleConnectionIsClosedAtFirstByteAndReleased() {
    FakeConnection c = connect();
    assertThat(admission.pending()).isEqualTo(1);
    assertThat(stats.firstRequestPhase.sum()).isEqualTo(1);

    advance(FIRST_BYTE.toMillis() - 1);
    assertThat(c.open).isTrue();
    advance(1);

    assertThat(c.open).isFalse();
    assertThat(stats.closedSlow.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void theHeadTimerRunsFromAcceptHoweverTheBytesTrickle() {
    FakeConnection c = connect();
    advance(900);
    for (int ms = 900; ms < HEAD.toMillis() - 100; ms += 100) {
      c.send("G");
      advance(100);
    }
    assertThat(stats.answered408.sum()).as("not yet at %s", HEAD.minusMillis(100)).isZero();
    advance(100);

    assertThat(c.answers.toString()).startsWith("HTTP/1.1 408 Request Timeout");
    assertThat(stats.answered408.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void aClientThatHalfClosesMidHeadGets408AtTheHeadDeadline() {
    FakeConnection c = connect();
    c.send("GET / HT");
    c.phase.onEndOfInput();
    assertThat(c.reading).as("reads no more after the FIN").isFalse();
    advance(HEAD.toMillis());

    assertThat(c.answers.toString()).startsWith("HTTP/1.1 408 Request Timeout");
    assertReleased();
  }

  @Test
  void tooManyHeaderFieldsGet431AndAreCounted() {
    FakeConnection c = connect();
    c.send("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");

    assertThat(c.answers.toString())
        .startsWith("HTTP/1.1 431 Request Header Fields Too Large")
        .contains("more than 5 header fields");
    assertThat(stats.answered431HeaderCount.sum()).isEqualTo(1);
    assertThat(stats.answered431.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void aMalformedHeadGets400AndIsReleased() {
    FakeConnection c = connect();
    c.send("GARBAGE\r\n\r\n");

    assertThat(c.answers.toString()).startsWith("HTTP/1.1 400 Bad Request");
    assertThat(c.lingering).isTrue();
    assertReleased();
  }

  @Test
  void aCompleteHeadLeavesThePhaseAndA503NamesNoPoolOrNode() {
    FakeConnection c = connect();
    String head = "GET /x?" + "q".repeat(6_000) + " HTTP/1.1\r\nHost: h\r\n\r\n";
    c.send(head);

    String answer = c.answers.toString();
    assertThat(answer)
        .startsWith("HTTP/1.1 503 Service Unavailable")
        .endsWith("\r\n\r\n503 Service Unavailable: " + Responses.UNAVAILABLE_DETAIL + "\n")
        .doesNotContain("pool");
    assertThat(stats.answered503.sum()).isEqualTo(1);
    assertThat(stats.bytesReadBeforeHandoff.sum()).isEqualTo(head.length());
    assertReleased();
  }

  @Test
  void aHeadInPiecesIsKeptWhole() {
    FakeConnection c = connect();
    String head = "GET /" + "p".repeat(3_000) + " HTTP/1.1\r\nHost: h\r\n\r\nbody";
    for (int i = 0; i < head.length(); i += 700) {
      c.send(head.substring(i, Math.min(head.length(), i + 700)));
      if (!c.reading) break;
    }
    assertThat(stats.bytesReadBeforeHandoff.sum())
        .as("every byte read, the body's too")
        .isEqualTo(head.length());
    assertReleased();
  }

  @Test
  void aClientThatResetsIsReleased() {
    FakeConnection c = connect();
    c.send("GET / HT");
    c.phase.onError(new java.io.IOException("connection reset by peer"));

    assertThat(c.open).isFalse();
    assertThat(stats.clientGone.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void aLoopThatClosesUnderThePhaseReleases() {
    FakeConnection c = connect();
    c.phase.onClosed();

    assertThat(stats.clientGone.sum()).isEqualTo(1);
    assertReleased();
  }

  @Test
  void aClientOverItsCapIsClosedAtOnceAndCounted() {
    FakeConnection first = connect();
    FakeConnection second = connect();
    FakeConnection third = connect();

    assertThat(third.open).isFalse();
    assertThat(third.reading).isFalse();
    assertThat(stats.refusedPendingPerClient.sum()).isEqualTo(1);
    assertThat(stats.accepted.sum()).isEqualTo(3);
    assertThat(admission.pending()).isEqualTo(2);
    assertThat(stats.firstRequestPhase.sum()).isEqualTo(2);
    first.phase.onError(new java.io.IOException("reset"));
    second.phase.onError(new java.io.IOException("reset"));
    assertReleased();
  }

  private void assertReleased() {
    assertThat(admission.pending()).as("admission released").isZero();
    assertThat(stats.firstRequestPhase.sum()).as("first-request phase gauge").isZero();
  }

  private static Inet4Address vip() {
    try {
      return (Inet4Address) InetAddress.getByName("198.18.0.100");
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
