package io.baton.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.config.HealthCheckConfig;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The probes against real sockets on loopback, and the fall/rise hysteresis over real rounds. */
class HealthChecksTest {
  private static HealthCheckConfig http(int port, String path) {
    return new HealthCheckConfig(
        HealthCheckConfig.Kind.HTTP,
        new InetSocketAddress(InetAddress.getLoopbackAddress(), port),
        path,
        Duration.ofMillis(20),
        Duration.ofMillis(200),
        2,
        2);
  }

  /** Answers every connection with {@code answer} (null: accept and say nothing) until closed. */
  private static ServerSocket server(AtomicReference<String> answer) throws Exception {
    ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofPlatform()
        .daemon()
        .start(
            () -> {
              while (!ss.isClosed()) {
                try (Socket s = ss.accept()) {
                  InputStream in = s.getInputStream();
                  byte[] buf = new byte[4096];
                  int n = in.read(buf); // the request fits in one read on loopback
                  String a = answer.get();
                  if (a == null || n < 0) {
                    in.read(); // hang until the prober gives up
                    continue;
                  }
                  OutputStream out = s.getOutputStream();
                  out.write(a.getBytes(StandardCharsets.US_ASCII));
                } catch (Exception e) {
                  // closed
                }
              }
            });
    return ss;
  }

  @Test
  void tcpPassesOnAListenerAndFailsOnAClosedPort() throws Exception {
    int port;
    try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      port = ss.getLocalPort();
      assertThat(
              HealthChecks.probe(
                  HealthCheckConfig.tcp(
                      new InetSocketAddress(InetAddress.getLoopbackAddress(), port))))
          .isNull();
    }
    assertThat(
            HealthChecks.probe(
                HealthCheckConfig.tcp(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), port))))
        .contains("refused");
  }

  @Test
  void httpWantsTwoOrThreeHundredInTime() throws Exception {
    AtomicReference<String> answer =
        new AtomicReference<>("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    try (ServerSocket ss = server(answer)) {
      int port = ss.getLocalPort();
      assertThat(HealthChecks.probe(http(port, "/healthz"))).isNull();
      answer.set("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n");
      assertThat(HealthChecks.probe(http(port, "/healthz"))).isNull();
      answer.set("HTTP/1.1 503 Service Unavailable\r\n\r\n");
      assertThat(HealthChecks.probe(http(port, "/healthz"))).isEqualTo("status 503");
      answer.set("SSH-2.0-OpenSSH_9.2\r\n");
      assertThat(HealthChecks.probe(http(port, "/healthz"))).isEqualTo("not an HTTP answer");
      answer.set(null);
      assertThat(HealthChecks.probe(http(port, "/healthz"))).isEqualTo("no answer within 200 ms");
    }
  }

  @Test
  void aNodeTurnsUnhealthyAfterFallFailuresAndBackAfterRiseSuccesses() throws Exception {
    AtomicReference<String> answer = new AtomicReference<>("HTTP/1.1 200 OK\r\n\r\n");
    try (ServerSocket ss = server(answer);
        HealthChecks checks = HealthChecks.start(java.util.List.of(http(ss.getLocalPort(), "/")))) {
      awaitStatus(checks, true);
      answer.set("HTTP/1.1 500 Internal Server Error\r\n\r\n");
      awaitStatus(checks, false);
      assertThat(checks.status().detail())
          .isEqualTo("http 127.0.0.1:" + ss.getLocalPort() + "/: status 500");
      answer.set("HTTP/1.1 204 No Content\r\n\r\n");
      awaitStatus(checks, true);
      assertThat(checks.status().detail()).isEqualTo("ok");
    }
  }

  private static void awaitStatus(HealthChecks checks, boolean healthy)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (checks.status().healthy() != healthy) {
      if (System.nanoTime() > deadline) throw new AssertionError("health never became " + healthy);
      Thread.sleep(5); // polling with a deadline
    }
  }
}
