package io.baton.cli.farm;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Segment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Three gateways in a row between a client and a server, hop by hop (seed 003's chained form):
 * client 198.18.8.10 - gwa - gwb - gwc - remote 198.18.11.10 (sample app on port 80), plain
 * segments without an emulated WAN. The remote is registered at gwa (peer gwb) and at gwb (peer
 * gwc); gwc serves it.
 *
 * <p>Built and closed by one thread.
 */
public final class GatewayChain extends ProcessLab {
  public static final String CLIENT_IP = "198.18.8.10";
  public static final String REMOTE_IP = "198.18.11.10";
  public final Path content;
  private final Path keyFile;
  private Process app;

  public GatewayChain(String purpose, long bigFileBytes) throws Exception {
    super(purpose);
    boolean ok = false;
    try {
      Segment c0 = lab.segment("c0");
      Segment c1 = lab.segment("c1");
      Segment c2 = lab.segment("c2");
      Segment c3 = lab.segment("c3");
      Host client = host("client");
      client.attach(c0, CLIENT_IP + "/24");
      client.addRoute("198.18.0.0/15", "198.18.8.1");
      Host gwa = host("gwa");
      gwa.attach(c0, "198.18.8.1/24");
      gwa.attach(c1, "198.18.9.1/24");
      gwa.addRoute("198.18.10.0/24", "198.18.9.2");
      gwa.addRoute("198.18.11.0/24", "198.18.9.2");
      Host gwb = host("gwb");
      gwb.attach(c1, "198.18.9.2/24");
      gwb.attach(c2, "198.18.10.2/24");
      gwb.addRoute("198.18.8.0/24", "198.18.9.1");
      gwb.addRoute("198.18.11.0/24", "198.18.10.3");
      Host gwc = host("gwc");
      gwc.attach(c2, "198.18.10.3/24");
      gwc.attach(c3, "198.18.11.3/24");
      gwc.addRoute("198.18.8.0/24", "198.18.10.2");
      gwc.addRoute("198.18.9.0/24", "198.18.10.2");
      Host remote = host("remote");
      remote.attach(c3, REMOTE_IP + "/24");
      remote.addRoute("198.18.0.0/15", "198.18.11.3");
      keyFile = lab.dir().resolve("cluster.key");
      Files.writeString(keyFile, key + "\n");
      content = Files.createDirectories(lab.dir().resolve("www-remote"));
      Files.writeString(content.resolve("whoami.txt"), "remote\n");
      byte[] big = new byte[(int) bigFileBytes];
      new java.util.SplittableRandom(7).nextBytes(big);
      Files.write(content.resolve("big.bin"), big);
      configure("gwa", config("gwa", "c0", "198.18.8.1", "c1", "198.18.9.1", "[]"));
      configure("gwb", config("gwb", "c2", "198.18.10.2", "c1", "198.18.9.2", "[198.18.11.0/24]"));
      configure("gwc", config("gwc", "c3", "198.18.11.3", "c2", "198.18.10.3", "[198.18.11.0/24]"));
      app =
          remote.start(
              baton(
                  "app",
                  "--root",
                  content.toString(),
                  "--listen",
                  REMOTE_IP + ":80",
                  "--name",
                  "remote",
                  "--threads",
                  "1"));
      for (String g : List.of("gwa", "gwb", "gwc")) start(g);
      for (String g : List.of("gwa", "gwb", "gwc")) {
        Process p = process(g);
        awaitTrue(
            () -> {
              if (!p.isAlive()) throw new IllegalStateException(g + " exited: " + log(g));
              return Files.readString(hosts.get(g).stdoutOf(p)).contains("; up");
            },
            START_LIMIT,
            g + " to come up");
      }
      awaitTrue(
          () ->
              remote
                  .exec("curl", "-s", "-m", "2", "http://" + REMOTE_IP + "/whoami.txt")
                  .stdout()
                  .equals("remote\n"),
          START_LIMIT,
          "the remote app");
      ok = true;
    } finally {
      if (!ok) close();
    }
  }

  private Host host(String name) {
    Host h = lab.host(name);
    hosts.put(name, h);
    return h;
  }

  public Host get(String name) {
    return hosts.get(name);
  }

  @Override
  protected String verb(String node) {
    return "gateway";
  }

  private String config(
      String name, String lanDev, String lanIp, String wanDev, String wanIp, String serves) {
    return GatewayPair.gatewayConfig(key, name, lanDev, lanIp, wanDev, wanIp, serves);
  }

  /**
   * Registers the remote at {@code gateway} (its daemon on {@code daemonIp}) with peer {@code
   * peerIp}.
   */
  public CommandResult register(String daemonIp, String peerIp, String... extra) {
    List<String> args =
        new java.util.ArrayList<>(
            List.of(
                "register",
                "--gateway",
                daemonIp + ":7500",
                "--key-file",
                keyFile.toString(),
                "--remote",
                REMOTE_IP,
                "--port",
                "80",
                "--peer",
                peerIp + ":7600"));
    args.addAll(List.of(extra));
    return cli("remote", args.toArray(String[]::new));
  }

  /** The port conversion table of the gateway whose daemon is on {@code daemonIp}. */
  public String streams(String daemonIp) {
    return cli(
            "remote",
            "register",
            "--gateway",
            daemonIp + ":7500",
            "--key-file",
            keyFile.toString(),
            "--streams")
        .stdout();
  }

  @Override
  public void close() {
    if (app != null) app.destroyForcibly();
    super.close();
  }
}
