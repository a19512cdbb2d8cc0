package io.baton.cli;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigException;
import io.baton.config.ConfigLoader;
import io.baton.gateway.GatewayKeys;
import io.baton.gateway.registration.RegistrationSeal;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code baton register}: a remote server's (or its agent's) request to a gateway's registration
 * daemon, sealed with the registration key derived from the cluster key; also lists and withdraws
 * registrations and shows the connections the gateway carries.
 */
@Command(
    name = "register",
    mixinStandardHelpOptions = true,
    description = {
      "Register a remote server with a WAN gateway (its connections are then carried over the WAN",
      "by the gateway pair), renew or withdraw it, or list what the gateway holds."
    })
final class RegisterCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--gateway",
      required = true,
      paramLabel = "IP:PORT",
      description = "The gateway's registration daemon.")
  String gateway;

  @ArgGroup(exclusive = true, multiplicity = "1")
  KeySource key;

  static final class KeySource {
    @Option(
        names = "--config",
        paramLabel = "FILE",
        description = "A node config whose cluster key to use.")
    Path config;

    @Option(
        names = "--key-file",
        paramLabel = "FILE",
        description = "A file with the cluster key in hex.")
    Path keyFile;
  }

  @Option(names = "--remote", paramLabel = "IP", description = "The remote server's address.")
  String remote;

  @Option(
      names = "--port",
      split = ",",
      paramLabel = "PORT",
      description = "TCP ports to carry (repeat or comma-separate).")
  List<Integer> ports;

  @Option(
      names = "--peer",
      paramLabel = "IP:PORT",
      description = "The peer gateway's tunnel address near the server.")
  String peer;

  @Option(names = "--connections", description = "Parallel WAN connections (default 4).")
  Integer connections;

  @Option(
      names = "--congestion-control",
      paramLabel = "NAME",
      description = "bbr, cubic, ... (default bbr where available).")
  String congestionControl;

  @Option(names = "--qos", paramLabel = "CLASS", description = "CBR, VBR, ABR (default) or UBR.")
  String qos;

  @Option(
      names = "--rate",
      paramLabel = "BITS/S",
      description = "Pacing cap of the whole trunk, e.g. 100m (CBR needs one).")
  String rate;

  @Option(names = "--window", paramLabel = "BYTES", description = "Per-stream window (default 8m).")
  String window;

  @Option(
      names = "--ttl",
      paramLabel = "SECONDS",
      description = "Lifetime unless renewed (default 300).")
  Long ttl;

  @Option(names = "--list", description = "List the gateway's registrations.")
  boolean list;

  @Option(
      names = "--streams",
      description = "List the connections the gateway carries (its port conversion table).")
  boolean streams;

  @Option(names = "--withdraw", paramLabel = "IP", description = "Withdraw the registration of IP.")
  String withdraw;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    RegistrationSeal seal = new RegistrationSeal(GatewayKeys.registrationKey(clusterKey()));
    String method;
    String path;
    byte[] body = new byte[0];
    if (list) {
      method = "GET";
      path = "/v1/registrations";
    } else if (streams) {
      method = "GET";
      path = "/v1/streams";
    } else if (withdraw != null) {
      method = "DELETE";
      path = "/v1/registrations/" + withdraw;
    } else {
      if (remote == null || ports == null || peer == null) {
        throw new CommandFailure(
            "register needs --remote, --port and --peer (or --list, --streams, --withdraw)", null);
      }
      Map<String, Object> request = new LinkedHashMap<>();
      request.put("remote", remote);
      request.put("ports", ports);
      request.put("peer", peer);
      if (qos != null) request.put("qos", qos);
      if (connections != null) request.put("connections", connections);
      if (congestionControl != null) request.put("congestionControl", congestionControl);
      if (window != null) request.put("windowBytes", (int) size(window, "--window"));
      if (rate != null) request.put("rateBitsPerSecond", size(rate, "--rate"));
      if (ttl != null) request.put("ttlSeconds", ttl);
      method = "POST";
      path = "/v1/registrations";
      body = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(request);
    }
    long issuedAt = System.currentTimeMillis();
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(URI.create("http://" + gateway + path))
            .timeout(Duration.ofSeconds(10))
            .header(RegistrationSeal.ISSUED_AT, Long.toString(issuedAt))
            .header(RegistrationSeal.SEAL, seal.seal(method, path, issuedAt, body))
            .method(method, HttpRequest.BodyPublishers.ofByteArray(body));
    if (method.equals("POST")) builder.header("Content-Type", "application/json");
    HttpResponse<String> response;
    try (HttpClient client =
        HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
      response =
          client.send(builder.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (java.io.IOException e) {
      throw new CommandFailure(
          "cannot reach the gateway's registration daemon at " + gateway + ": " + e.getMessage(),
          e);
    }
    out.print(response.body());
    out.flush();
    if (response.statusCode() / 100 != 2) {
      throw new CommandFailure("the gateway refused: HTTP " + response.statusCode(), null);
    }
    return 0;
  }

  private byte[] clusterKey() throws Exception {
    if (key.config != null) {
      try {
        BatonConfig config = ConfigLoader.load(key.config);
        return config.cluster().key();
      } catch (ConfigException e) {
        throw new NodeRunner.ConfigFailure(e.getMessage(), e);
      }
    }
    String hex = Files.readString(key.keyFile).strip();
    try {
      return HexFormat.of().parseHex(hex);
    } catch (IllegalArgumentException e) {
      throw new CommandFailure(key.keyFile + ": not a hex key", e);
    }
  }

  /** 100m, 8M, 64k, 1g or a plain number. */
  static long size(String text, String option) {
    String t = text.strip().toLowerCase(java.util.Locale.ROOT);
    long unit = 1;
    if (t.endsWith("k")) unit = 1_000;
    else if (t.endsWith("m")) unit = 1_000_000;
    else if (t.endsWith("g")) unit = 1_000_000_000;
    if (unit != 1) t = t.substring(0, t.length() - 1);
    try {
      return Long.parseLong(t) * unit;
    } catch (NumberFormatException e) {
      throw new CommandFailure(option + ": '" + text + "' is not a size such as 100m", e);
    }
  }
}
