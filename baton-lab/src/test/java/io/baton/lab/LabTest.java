package io.baton.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.linux.Netns;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("lab")
class LabTest {
  @BeforeAll
  static void sweepEarlierRuns() {
    Lab.sweepStale();
  }

  @AfterEach
  void noNamespaceLeaks() {
    assertThat(Lab.leftovers()).isEmpty();
  }

  @Test
  void threeHostsPingAndTalkTcpAcrossTheBridge() throws Exception {
    List<String> namespaces;
    try (Lab lab = Lab.create("three-hosts")) {
      Segment front = lab.segment("front");
      Host client = lab.host("client");
      Host a = lab.host("a");
      Host b = lab.host("b");
      assertThat(client.attach(front, "198.18.0.10/24")).isEqualTo("front");
      a.attach(front, "198.18.0.1/24");
      b.attach(front, "198.18.0.2/24");
      namespaces = List.of(client.nsName(), a.nsName(), b.nsName(), lab.switchNamespace());
      assertThat(Lab.leftovers()).containsAll(namespaces);

      client.execOrThrow("ping", "-c1", "-W2", "198.18.0.1");
      client.execOrThrow("ping", "-c1", "-W2", "198.18.0.2");
      InterfaceStats stats = client.interfaceStats("front");
      assertThat(stats.txPackets()).isPositive();
      assertThat(stats.rxBytes()).isPositive();

      try (ServerSocket server = a.call(() -> listen("198.18.0.1"))) {
        Future<String> served = a.executor().submit(() -> echoOnce(server));
        String reply = client.call(() -> exchange(server.getLocalPort(), "hello from client"));
        assertThat(reply).isEqualTo("hello from client");
        assertThat(served.get(10, TimeUnit.SECONDS)).isEqualTo("198.18.0.10");
      }
      assertThat(a.call(Netns::current)).isNotEqualTo(Netns.current());
    }
    for (String ns : namespaces) assertThat(Netns.pathOf(ns)).doesNotExist();
  }

  @Test
  void rootNamespaceIsNeverTouched() {
    try (Lab lab = Lab.create("root-untouched")) {
      Segment sync = lab.segment("sync");
      Host a = lab.host("a");
      a.attach(sync, "198.18.2.1/24");
      a.addAddress("lo", "198.18.0.100/32");
      assertThat(
              CommandRunner.run(
                      List.of("ip", "link", "show", "dev", sync.bridgeName()),
                      CommandRunner.SETUP_TIMEOUT)
                  .succeeded())
          .isFalse();
      assertThat(CommandRunner.runOrThrow(List.of("ip", "-o", "addr", "show")).stdout())
          .doesNotContain("198.18.");
      assertThat(a.execOrThrow("ip", "-o", "addr", "show", "dev", "lo").stdout())
          .contains("198.18.0.100/32");
      // Hosts keep the kernel's defaults: IPv6 stays on, as on a real host.
      assertThat(a.execOrThrow("cat", "/proc/sys/net/ipv6/conf/sync/disable_ipv6").stdout().strip())
          .isEqualTo("0");
    }
  }

  @Test
  void routesAndSysctlsApplyInsideTheHost() {
    try (Lab lab = Lab.create("routing")) {
      Segment front = lab.segment("front");
      Segment fabric = lab.segment("fabric");
      Host client = lab.host("client");
      Host router = lab.host("router");
      Host server = lab.host("server");
      client.attach(front, "198.18.0.10/24");
      router.attach(front, "198.18.0.1/24");
      router.attach(fabric, "198.18.1.1/24");
      server.attach(fabric, "198.18.1.2/24");
      router.sysctl("net.ipv4.ip_forward", "1");
      client.addRoute("198.18.1.0/24", "198.18.0.1");
      server.addRoute("198.18.0.0/24", "198.18.1.1");
      assertThat(router.execOrThrow("sysctl", "-n", "net.ipv4.ip_forward").stdout().strip())
          .isEqualTo("1");
      client.execOrThrow("ping", "-c1", "-W2", "198.18.1.2");
    }
  }

  @Test
  void addressesOutsideTheBenchmarkRangeAreRefused() {
    try (Lab lab = Lab.create("refusal")) {
      Segment front = lab.segment("front");
      Host a = lab.host("a");
      assertThatThrownBy(() -> a.attach(front, "10.0.0.1/24"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("10.0.0.1")
          .hasMessageContaining("198.18.0.0/15");
      assertThatThrownBy(() -> a.addAddress("lo", "10.0.0.1/32"))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> a.addRoute("10.0.0.0/8", "198.18.0.1"))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(a.execOrThrow("ip", "-o", "link", "show").stdout()).doesNotContain("front");
    }
  }

  @Test
  void failingCommandNamesCommandExitCodeAndStderr() {
    try (Lab lab = Lab.create("failure")) {
      Host a = lab.host("a");
      assertThatThrownBy(() -> a.execOrThrow("ip", "link", "show", "dev", "nosuchdev"))
          .isInstanceOf(CommandFailedException.class)
          .hasMessageContaining("ip link show dev nosuchdev")
          .hasMessageContaining("exited with 1")
          .hasMessageContaining("\"nosuchdev\" does not exist");
      CommandResult result = a.exec("sh", "-c", "echo out; echo err >&2; exit 3");
      assertThat(result.exitCode()).isEqualTo(3);
      assertThat(result.stdout()).isEqualTo("out\n");
      assertThat(result.stderr()).isEqualTo("err\n");
    }
  }

  @Test
  void startedProcessesWriteToTheLabDirAndDieWithTheLab() throws Exception {
    Process sleeper;
    Path dir;
    try (Lab lab = Lab.create("processes")) {
      dir = lab.dir();
      Host a = lab.host("a");
      Process echo = a.start(List.of("sh", "-c", "ip -o link show lo; echo oops >&2"));
      assertThat(echo.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(Files.readString(a.stdoutOf(echo))).contains("lo:");
      assertThat(Files.readString(a.stderrOf(echo))).isEqualTo("oops\n");
      sleeper = a.start(List.of("sleep", "600"));
      assertThat(sleeper.isAlive()).isTrue();
    }
    assertThat(sleeper.isAlive()).isFalse();
    assertThat(dir).doesNotExist();
  }

  @Test
  void sweepStaleDeletesNamespacesOfDeadRuns() throws Exception {
    Process finished = new ProcessBuilder("true").start();
    assertThat(finished.waitFor(10, TimeUnit.SECONDS)).isTrue();
    String stale = LabNames.namespace(finished.pid(), 1, "ghost");
    CommandRunner.runOrThrow(List.of("ip", "netns", "add", stale));
    assertThat(Lab.leftovers()).contains(stale);
    Path staleDir = Files.createTempDirectory(LabNames.dirPrefix(finished.pid(), "ghost"));
    Files.writeString(staleDir.resolve("a-1-sleep.out"), "output of a dead run\n");
    assertThat(Lab.sweepStale()).contains(stale);
    assertThat(Netns.pathOf(stale)).doesNotExist();
    assertThat(staleDir).doesNotExist();
  }

  /**
   * Baton names per-namespace lock files by the namespace's identity; a lab's namespaces go with
   * the lab, and so do their lock files (another namespace's stay).
   */
  @Test
  void closingTheLabDeletesTheLockFilesOfItsNamespacesOnly() throws Exception {
    Files.createDirectories(Lab.LOCK_DIRECTORY);
    Path other = Lab.LOCK_DIRECTORY.resolve("bt_test-net-1.lock");
    Files.writeString(other, "");
    Path mine;
    try (Lab lab = Lab.create("locks")) {
      Host a = lab.host("a");
      long identity = a.call(io.baton.linux.NetnsIdentity::current);
      assertThat(io.baton.linux.NetnsIdentity.of(Netns.pathOf(a.nsName()))).isEqualTo(identity);
      mine = Lab.LOCK_DIRECTORY.resolve("bt_test-net-" + Long.toUnsignedString(identity) + ".lock");
      Files.writeString(mine, "");
    }
    try {
      assertThat(mine).doesNotExist();
      assertThat(other).exists();
    } finally {
      Files.deleteIfExists(other);
    }
  }

  @Test
  void closedLabRefusesUse() {
    Lab lab = Lab.create("closed");
    Host a = lab.host("a");
    lab.close();
    lab.close();
    assertThatThrownBy(() -> lab.host("b")).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> a.exec("true")).isInstanceOf(IllegalStateException.class);
    assertThat(Netns.pathOf(a.nsName())).doesNotExist();
  }

  private static ServerSocket listen(String address) throws Exception {
    ServerSocket server = new ServerSocket();
    server.bind(new InetSocketAddress(address, 0));
    server.setSoTimeout(10_000);
    return server;
  }

  /** Echoes one message back and returns the peer's address. */
  private static String echoOnce(ServerSocket server) throws Exception {
    try (Socket s = server.accept()) {
      s.setSoTimeout(10_000);
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      byte[] buf = new byte[256];
      int n = in.read(buf);
      out.write(buf, 0, n);
      out.flush();
      return s.getInetAddress().getHostAddress();
    }
  }

  private static String exchange(int port, String message) throws Exception {
    return exchange("198.18.0.1", port, message);
  }

  private static String exchange(String address, int port, String message) throws Exception {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(address, port), 5_000);
      s.setSoTimeout(10_000);
      byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
      s.getOutputStream().write(bytes);
      byte[] reply = s.getInputStream().readNBytes(bytes.length);
      return new String(reply, StandardCharsets.UTF_8);
    }
  }

  /** A refused connection's RST is counted, and the flow it came on listed. */
  @Test
  void rstCounterCountsAndNamesTheResetFlow() throws Exception {
    try (Lab lab = Lab.create("rst-count")) {
      Segment front = lab.segment("front");
      Host client = lab.host("client");
      Host server = lab.host("server");
      client.attach(front, "198.18.0.10/24");
      server.attach(front, "198.18.0.1/24");
      RstCounter rst = RstCounter.install(client);
      assertThat(rst.received()).isZero();
      assertThat(rst.receivedFlows()).isEqualTo("none listed");
      // Nothing listens on 198.18.0.1:9: the connection attempt gets a RST.
      assertThatThrownBy(
              () ->
                  client.call(
                      () -> {
                        try (Socket s = new Socket()) {
                          s.connect(new InetSocketAddress("198.18.0.1", 9), 5000);
                        }
                        return null;
                      }))
          .isInstanceOf(java.net.ConnectException.class);
      assertThat(rst.received()).isEqualTo(1);
      assertThat(rst.receivedFlows()).startsWith("198.18.0.1 . 9 . 198.18.0.10 . ");
    }
  }

  /**
   * IPv6 lab addresses (2001:2::/48) work at once: added nodad, a TCP connection crosses the bridge
   * right after attach, and a RST received over IPv6 is counted with its flow.
   */
  @Test
  void ipv6HostsTalkTcpAcrossTheBridgeAndTheirResetsAreCounted() throws Exception {
    try (Lab lab = Lab.create("ipv6-hosts")) {
      Segment front = lab.segment("front");
      Host client = lab.host("client");
      Host a = lab.host("a");
      client.attach(front, "2001:2::10/64");
      a.attach(front, "2001:2::1/64");
      a.addAddress("lo", "2001:2::100/128");
      client.addRoute("2001:2::100/128", "2001:2::1");
      // The lab address is usable at once (nodad); only the kernel's link-local one is tentative.
      assertThat(client.execOrThrow("ip", "-6", "-o", "addr", "show", "dev", "front").stdout())
          .containsPattern("inet6 2001:2::10/64 scope global nodad \\\\")
          .doesNotContainPattern("2001:2::10/64[^\\n]*tentative");
      RstCounter rst = RstCounter.install(client);
      try (ServerSocket server = a.call(() -> listen("2001:2::100"))) {
        Future<String> served = a.executor().submit(() -> echoOnce(server));
        String reply =
            client.call(() -> exchange("2001:2::100", server.getLocalPort(), "hello over IPv6"));
        assertThat(reply).isEqualTo("hello over IPv6");
        assertThat(served.get(10, TimeUnit.SECONDS)).isEqualTo("2001:2:0:0:0:0:0:10");
      }
      assertThatThrownBy(
              () ->
                  client.call(
                      () -> {
                        try (Socket s = new Socket()) {
                          s.connect(new InetSocketAddress("2001:2::1", 9), 5000);
                        }
                        return null;
                      }))
          .isInstanceOf(java.net.ConnectException.class);
      assertThat(rst.received()).isEqualTo(1);
      assertThat(rst.receivedFlows()).startsWith("2001:2::1 . 9 . 2001:2::10 . ");
      assertThatThrownBy(() -> client.addAddress("lo", "2001:db8::1/128"))
          .hasMessageContaining("outside 2001:2::/48");
      assertThatThrownBy(() -> client.addRoute("2001:2:0:5::/64", "198.18.0.1"))
          .hasMessageContaining("mixes IPv4 and IPv6");
    }
  }
}
