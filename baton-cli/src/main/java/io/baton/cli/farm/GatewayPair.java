package io.baton.cli.farm;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.wan.WanLink;
import io.baton.lab.wan.WanTopology;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Two WAN gateways as an operator runs them ({@code baton gateway --config FILE}) on either side of
 * an emulated WAN ({@link WanTopology}): gwa near the LAN client, gwb near the remote server, which
 * runs Baton's sample app on 198.18.7.10 ports 80 and 8080 (files and {@code POST /echo}). {@link
 * #register} runs {@code baton register} on the remote server, as its agent would.
 *
 * <p>Built and closed by one thread.
 */
public final class GatewayPair extends ProcessLab {
  public static final int REGISTERED_PORT = 80;
  public static final int UNREGISTERED_PORT = 8080;
  public final WanTopology wan;
  public final Path content;
  private final Path keyFile;
  private final List<Process> apps = new ArrayList<>();

  /**
   * @param bigFileBytes size of {@code big.bin} on the remote server
   */
  public GatewayPair(String purpose, WanLink link, long bigFileBytes) throws Exception {
    super(purpose);
    boolean ok = false;
    try {
      wan = WanTopology.build(lab, link);
      hosts.put("client", wan.client());
      hosts.put("gwa", wan.gwa());
      hosts.put("wan", wan.wan());
      hosts.put("gwb", wan.gwb());
      hosts.put("remote", wan.remote());
      keyFile = lab.dir().resolve("cluster.key");
      Files.writeString(keyFile, key + "\n");
      content = Files.createDirectories(lab.dir().resolve("www-remote"));
      Files.writeString(content.resolve("whoami.txt"), "remote\n");
      writeRandom(content.resolve("big.bin"), bigFileBytes);
      configure(
          "gwa",
          config("gwa", "lan", WanTopology.GWA_LAN_IP, "wana", WanTopology.GWA_WAN_IP, "[]"));
      configure(
          "gwb",
          config(
              "gwb",
              "rlan",
              WanTopology.GWB_LAN_IP,
              "wanb",
              WanTopology.GWB_WAN_IP,
              "[" + WanTopology.REMOTE_LAN + "]"));
      for (int port : new int[] {REGISTERED_PORT, UNREGISTERED_PORT}) {
        apps.add(
            wan.remote()
                .start(
                    baton(
                        "app",
                        "--root",
                        content.toString(),
                        "--listen",
                        WanTopology.REMOTE_IP + ":" + port,
                        "--name",
                        "remote",
                        "--threads",
                        "1")));
      }
      start("gwa");
      start("gwb");
      for (String node : List.of("gwa", "gwb")) awaitUp(node);
      for (int port : new int[] {REGISTERED_PORT, UNREGISTERED_PORT}) {
        String url = "http://" + WanTopology.REMOTE_IP + ":" + port + "/whoami.txt";
        awaitTrue(
            () -> wan.remote().exec("curl", "-s", "-m", "2", url).stdout().equals("remote\n"),
            START_LIMIT,
            "the remote app on port " + port);
      }
      ok = true;
    } finally {
      if (!ok) close();
    }
  }

  @Override
  protected String verb(String node) {
    return "gateway";
  }

  private String config(
      String name, String lanDev, String lanIp, String wanDev, String wanIp, String serves) {
    return gatewayConfig(key, name, lanDev, lanIp, wanDev, wanIp, serves);
  }

  /** A gateway node's config as an operator writes it, host preparation applied by the gateway. */
  static String gatewayConfig(
      String key,
      String name,
      String lanDev,
      String lanIp,
      String wanDev,
      String wanIp,
      String serves) {
    return """
        node:
          name: %s
          roles: [gateway]
        cluster:
          key: %s
        gateway:
          lan: { device: %s, address: %s }
          wan: { device: %s, address: %s }
          serves: %s
          apply-host-preparation: true
        metrics:
          listen: 127.0.0.1:9400
        """
        .formatted(name, key, lanDev, lanIp, wanDev, wanIp, serves);
  }

  private void awaitUp(String node) throws Exception {
    Process p = process(node);
    awaitTrue(
        () -> {
          if (!p.isAlive())
            throw new IllegalStateException(node + " exited " + p.exitValue() + ": " + log(node));
          return Files.readString(hosts.get(node).stdoutOf(p)).contains("; up");
        },
        START_LIMIT,
        node + " to come up");
  }

  /**
   * {@code baton register} on the remote server for port 80 via gwb, with {@code extra} options.
   */
  public CommandResult register(String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "register",
                "--gateway",
                WanTopology.GWA_LAN_IP + ":7500",
                "--key-file",
                keyFile.toString(),
                "--remote",
                WanTopology.REMOTE_IP,
                "--port",
                String.valueOf(REGISTERED_PORT),
                "--peer",
                WanTopology.GWB_WAN_IP + ":7600"));
    args.addAll(List.of(extra));
    return cli("remote", args.toArray(String[]::new));
  }

  /** {@code baton register ARGS} against gwa's daemon, with the farm's key. */
  public CommandResult registerCli(String... args) {
    List<String> all =
        new ArrayList<>(
            List.of(
                "register",
                "--gateway",
                WanTopology.GWA_LAN_IP + ":7500",
                "--key-file",
                keyFile.toString()));
    all.addAll(List.of(args));
    return cli("remote", all.toArray(String[]::new));
  }

  /** The port conversion table of gateway {@code node} (gwa or gwb), as JSON. */
  public String streams(String node) {
    String daemon =
        (node.equals("gwa") ? WanTopology.GWA_LAN_IP : WanTopology.GWB_LAN_IP) + ":7500";
    return cli(
            "remote",
            "register",
            "--gateway",
            daemon,
            "--key-file",
            keyFile.toString(),
            "--streams")
        .stdout();
  }

  public Path keyFile() {
    return keyFile;
  }

  public Host host(String name) {
    return hosts.get(name);
  }

  private static void writeRandom(Path file, long bytes) throws IOException {
    java.util.SplittableRandom random = new java.util.SplittableRandom(42);
    byte[] chunk = new byte[1 << 20];
    try (var out = Files.newOutputStream(file)) {
      for (long left = bytes; left > 0; left -= chunk.length) {
        for (int i = 0; i < chunk.length; i += 8) {
          long v = random.nextLong();
          for (int k = 0; k < 8; k++) chunk[i + k] = (byte) (v >>> (8 * k));
        }
        out.write(chunk, 0, (int) Math.min(chunk.length, left));
      }
    }
  }

  @Override
  public void close() {
    for (Process p : apps) p.destroyForcibly();
    try {
      if (wan != null) wan.close();
    } finally {
      super.close();
    }
  }

  /** Bounded wait helper for callers outside the package. */
  public static void await(
      java.util.concurrent.Callable<Boolean> check, Duration limit, String what) throws Exception {
    awaitTrue(check, limit, what);
  }
}
