package io.baton.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.admin.AdminToken;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigException;
import io.baton.config.ConfigLoader;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code baton ctl --config FILE COMMAND}: a running node's admin endpoint ({@code admin.listen},
 * loopback by default; the token comes from the config's cluster key), in the spirit of {@code
 * ipvsadm -L -n}: {@code nodes}, {@code connections}, {@code migrate CLIENT VIP [--to NODE]},
 * {@code drain [--deadline D] [--to NODE]}. {@code --json} prints the endpoint's JSON.
 */
@Command(
    name = "ctl",
    mixinStandardHelpOptions = true,
    description = {
      "Ask a running node: nodes | connections | migrate CLIENT_IP:PORT VIP:PORT [--to NODE] |"
          + " migrate --all|--from THIS_NODE [--to NODE] [--deadline 30s] |"
          + " drain [--deadline 30s] [--to NODE] | workers [NAME weight N | drain | undrain | add ADDRESS:PORT|SOCKET [WEIGHT] | remove] [--vip ADDRESS:PORT]"
          + " | reload (a dispatcher's planned reload: a new process takes over from the running one)"
          + " | stats (prints the address of the node's live stats page, token included)."
          + " workers lists or changes a server's local worker pools (blue/green by weight). drain also stops new connections to the node (as baton drain) and"
          + " moves its established ones to other servers at their next safe point, until the deadline."
          + " --force moves connections that have no safe point too (l4 and tls relays, applications without one),"
          + " without their application's state: an upstream exchange or TLS session in progress breaks."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:done",
      "1:the node refused or could not be reached, or not everything moved",
      "2:usage error"
    })
final class CtlCommand implements Callable<Integer> {
  private static final ObjectMapper json = new ObjectMapper();

  @Spec CommandSpec spec;

  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "The node's YAML config file.")
  Path config;

  @Option(names = "--json", description = "Print the node's answer as JSON.")
  boolean asJson;

  @Option(
      names = "--to",
      paramLabel = "NODE",
      description = "Target server (default: the least loaded that can take it).")
  String to;

  @Option(
      names = "--close-rest",
      description =
          "drain: close (FIN) the connections still here at the deadline instead"
              + " of leaving them to finish.")
  boolean closeRest;

  @Option(
      names = "--all",
      description =
          "migrate: every connection of this node (as drain, but new connections still come).")
  boolean all;

  @Option(
      names = "--from",
      paramLabel = "NODE",
      description =
          "migrate: every connection of NODE, which must be the"
              + " node of --config (the same as --all; ctl talks to one node).")
  String from;

  @Option(
      names = "--force",
      description =
          "migrate, drain: also move connections without a safe point, without their"
              + " application's state (you accept that what was in progress on them may break).")
  boolean force;

  @Option(
      names = "--vip",
      paramLabel = "ADDRESS:PORT",
      description = "workers: the pool of this VIP port (when the" + " server has several).")
  String vip;

  @Option(
      names = "--deadline",
      paramLabel = "DURATION",
      defaultValue = "30s",
      description = "How long drain keeps moving connections (default ${DEFAULT-VALUE}).")
  String deadline;

  @Parameters(
      index = "0",
      paramLabel = "COMMAND",
      description = "nodes, connections, migrate, drain or workers")
  String command;

  @Parameters(index = "1..*", paramLabel = "ARG", description = "migrate: CLIENT_IP:PORT VIP:PORT")
  java.util.List<String> args = new java.util.ArrayList<>();

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    BatonConfig c;
    try {
      c = ConfigLoader.load(config);
    } catch (ConfigException e) {
      err.println(e.getMessage());
      err.flush();
      return ExitCode.FAILURE;
    }
    if (!c.admin().enabled()) {
      err.println(config + ": the admin endpoint is off (admin.enabled: false)");
      err.flush();
      return ExitCode.FAILURE;
    }
    if (from != null && !from.equals(c.node().name())) {
      return usage(
          err,
          "--from "
              + from
              + ": this config is node "
              + c.node().name()
              + "'s; run ctl with "
              + from
              + "'s config to move its connections");
    }
    boolean every = all || from != null;
    String toParam =
        (to == null ? "" : "&to=" + URLEncoder.encode(to, StandardCharsets.UTF_8))
            + (force ? "&force=true" : "");
    if (force && (command.equals("migrate") || command.equals("drain"))) {
      err.println(
          "--force: connections without a safe point move as they are; what their application was in the"
              + " middle of (an upstream exchange, a TLS session) does not move with them");
      err.flush();
    }
    if (command.equals("stats")) {
      // The live stats page's address: open it in a browser on the node's host (the admin
      // endpoint listens on loopback by default; an SSH tunnel reaches it from elsewhere).
      var at = c.admin().listen();
      out.println(
          "http://"
              + at.getAddress().getHostAddress()
              + ":"
              + at.getPort()
              + "/stats?token="
              + AdminToken.of(c.cluster().key()));
      out.flush();
      return ExitCode.OK;
    }
    String method = "GET";
    String path;
    long timeoutMs = 35_000;
    switch (command) {
      case "nodes" -> path = "/v1/nodes";
      case "reload" -> {
        method = "POST";
        path = "/v1/reload";
      }
      case "connections" -> path = "/v1/connections";
      case "workers" -> {
        if (args.isEmpty()) {
          path = "/v1/workers";
          break;
        }
        String vipParam =
            vip == null ? "" : "&vip=" + URLEncoder.encode(vip, StandardCharsets.UTF_8);
        String worker =
            "/v1/workers?worker="
                + URLEncoder.encode(args.get(0), StandardCharsets.UTF_8)
                + vipParam;
        method = "POST";
        if (args.size() == 3 && args.get(1).equals("weight")) {
          path = worker + "&weight=" + URLEncoder.encode(args.get(2), StandardCharsets.UTF_8);
        } else if (args.size() == 2
            && (args.get(1).equals("drain") || args.get(1).equals("undrain"))) {
          path = worker + "&drain=" + args.get(1).equals("drain");
        } else if ((args.size() == 3 || args.size() == 4) && args.get(1).equals("add")) {
          path =
              worker
                  + "&add="
                  + URLEncoder.encode(args.get(2), StandardCharsets.UTF_8)
                  + (args.size() == 4
                      ? "&weight=" + URLEncoder.encode(args.get(3), StandardCharsets.UTF_8)
                      : "");
        } else if (args.size() == 2 && args.get(1).equals("remove")) {
          path = worker + "&remove=true";
        } else {
          return usage(
              err,
              "workers [NAME weight N | NAME drain | NAME undrain | NAME add ADDRESS:PORT|SOCKET [WEIGHT]"
                  + " | NAME remove] [--vip ADDRESS:PORT]");
        }
      }
      case "migrate", "drain" -> {
        if (command.equals("migrate") && !every) {
          if (args.size() != 2)
            return usage(err, "migrate needs CLIENT_IP:PORT VIP:PORT, or --all");
          method = "POST";
          path =
              "/v1/migrate?client="
                  + URLEncoder.encode(args.get(0), StandardCharsets.UTF_8)
                  + "&vip="
                  + URLEncoder.encode(args.get(1), StandardCharsets.UTF_8)
                  + toParam;
          break;
        }
        // Every connection: drain, or migrate --all (the same without the drain flag).
        Duration d;
        try {
          d = io.baton.config.Durations.parse(deadline);
        } catch (RuntimeException e) {
          return usage(err, "--deadline: " + e.getMessage());
        }
        boolean drain = command.equals("drain");
        if (drain && c.sync().isPresent()) DrainFlag.of(c.node().name()).set();
        method = "POST";
        path =
            "/v1/drain?deadline-ms="
                + d.toMillis()
                + toParam
                + (drain && closeRest ? "&close-rest=true" : "");
        timeoutMs = d.toMillis() + (drain ? 65_000 : 35_000);
      }
      default -> {
        return usage(
            err,
            "unknown command "
                + command
                + " (nodes, connections, migrate, drain, workers, reload, stats)");
      }
    }
    var listen = c.admin().listen();
    URI uri =
        URI.create(
            "http://" + listen.getAddress().getHostAddress() + ":" + listen.getPort() + path);
    HttpResponse<String> r;
    try {
      r =
          HttpClient.newBuilder()
              .connectTimeout(Duration.ofSeconds(3))
              .build()
              .send(
                  HttpRequest.newBuilder(uri)
                      .timeout(Duration.ofMillis(timeoutMs))
                      .header("Authorization", "Bearer " + AdminToken.of(c.cluster().key()))
                      .method(method, HttpRequest.BodyPublishers.noBody())
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException e) {
      err.println(
          "cannot reach node "
              + c.node().name()
              + " at "
              + listen
              + ": "
              + e
              + " (is it running? admin.listen)");
      err.flush();
      return ExitCode.FAILURE;
    }
    JsonNode body = json.readTree(r.body());
    if (r.statusCode() != 200) {
      err.println("node " + c.node().name() + ": " + body.path("error").asText(r.body()));
      err.flush();
      return ExitCode.FAILURE;
    }
    if (command.equals("reload")) return awaitSuccessor(c, uri, body, out, err);
    if (asJson) {
      out.println(r.body());
    } else {
      print(out, command, body);
    }
    out.flush();
    if (command.equals("migrate") && !every) {
      return body.path("outcome").asText().equals("moved") ? ExitCode.OK : ExitCode.FAILURE;
    }
    if (command.equals("migrate"))
      return body.path("remaining").asInt() == 0 ? ExitCode.OK : ExitCode.FAILURE;
    if (command.equals("drain"))
      return body.path("remaining").asInt() == 0 ? ExitCode.OK : ExitCode.FAILURE;
    return ExitCode.OK;
  }

  /** How long a reload may take: the old process's orderly stop is bounded by 45 s. */
  static final Duration RELOAD_LIMIT = Duration.ofSeconds(90);

  /**
   * After {@code POST /v1/reload}: waits until the node's admin endpoint answers from the
   * successor's pid (during the switch nobody answers), then says how long it took.
   */
  private int awaitSuccessor(
      io.baton.config.BatonConfig c,
      URI reloadUri,
      JsonNode started,
      PrintWriter out,
      PrintWriter err)
      throws InterruptedException {
    long oldPid = started.path("pid").asLong();
    long successor = started.path("successor").asLong();
    out.println(
        "node "
            + c.node().name()
            + ": pid "
            + oldPid
            + " started successor pid "
            + successor
            + "; waiting for it to take over");
    out.flush();
    URI process = reloadUri.resolve("/v1/process");
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    long t0 = System.nanoTime();
    long deadline = t0 + RELOAD_LIMIT.toNanos();
    String last = "no answer yet";
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r =
            client.send(
                HttpRequest.newBuilder(process)
                    .timeout(Duration.ofSeconds(2))
                    .header("Authorization", "Bearer " + AdminToken.of(c.cluster().key()))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        long pid = json.readTree(r.body()).path("pid").asLong();
        if (pid == successor) {
          out.println(
              "node "
                  + c.node().name()
                  + " reloaded: pid "
                  + successor
                  + " took over from pid "
                  + oldPid
                  + " in "
                  + (System.nanoTime() - t0) / 1_000_000
                  + " ms");
          out.flush();
          return ExitCode.OK;
        }
        last = "pid " + pid + " still answers";
      } catch (java.io.IOException e) {
        last = e.toString(); // the switch: the old endpoint closed, the new one not yet up
      }
      if (ProcessHandle.of(successor).map(h -> !h.isAlive()).orElse(false)) {
        err.println(
            "node "
                + c.node().name()
                + ": successor pid "
                + successor
                + " exited before it took over; see the node's log. The old process (pid "
                + oldPid
                + ") may still run.");
        err.flush();
        return ExitCode.FAILURE;
      }
      Thread.sleep(100); // polling interval of a deadline-bounded wait
    }
    err.println(
        "node "
            + c.node().name()
            + ": successor pid "
            + successor
            + " did not take over within "
            + RELOAD_LIMIT.toSeconds()
            + " s ("
            + last
            + ")");
    err.flush();
    return ExitCode.FAILURE;
  }

  private static void print(PrintWriter out, String command, JsonNode b) {
    switch (command) {
      case "workers" -> {
        out.printf(
            "%-21s %-12s %-21s %6s %-9s %7s %11s %8s%n",
            "POOL", "WORKER", "ADDRESS", "WEIGHT", "STATE", "ACTIVE", "CONNECTIONS", "FAILURES");
        for (JsonNode n : b.path("workers")) {
          out.printf(
              "%-21s %-12s %-21s %6d %-9s %7d %11d %8d%n",
              n.path("pool").asText(),
              n.path("worker").asText(),
              n.path("address").asText(),
              n.path("weight").asInt(),
              n.path("state").asText(),
              n.path("active").asInt(),
              n.path("connections").asLong(),
              n.path("failures").asLong());
        }
      }
      case "nodes" -> {
        out.printf(
            "%-16s %-7s %-20s %-15s %8s %s%n",
            "NODE", "VIEW", "ROLES", "FABRIC", "ACTIVE", "STATE");
        for (JsonNode n : b.path("nodes")) {
          out.printf(
              "%-16s %-7s %-20s %-15s %8s %s%n",
              n.path("node").asText(),
              n.path("inView").asBoolean() ? "yes" : "no",
              n.path("roles").asText("-"),
              n.path("fabric").asText("-"),
              n.path("active").asText("-"),
              n.path("eligible").asBoolean() ? "eligible" : n.path("why").asText());
        }
      }
      case "connections" -> {
        if (b.has("connections")) {
          out.printf(
              "%-21s %-21s %-16s %10s %12s %12s %s%n",
              "VIP", "CLIENT", "FROM", "AGE_MS", "BYTES_IN", "BYTES_OUT", "REQUEST");
          for (JsonNode n : b.path("connections")) {
            out.printf(
                "%-21s %-21s %-16s %10d %12d %12d %s%n",
                n.path("vip").asText(),
                n.path("client").asText(),
                n.path("from").asText(),
                n.path("ageMs").asLong(),
                n.path("bytesIn").asLong(),
                n.path("bytesOut").asLong(),
                n.path("summary").asText());
          }
        }
        if (b.has("forwarded")) printFlows(out, b.path("forwarded"), "VIP", "FORWARDED TO");
        if (b.has("udpFlows")) printFlows(out, b.path("udpFlows"), "UDP VIP", "SERVER");
      }
      case "migrate" -> {
        if (!b.has("outcome")) {
          printDrain(out, b);
        } else {
          out.println(line(b));
        }
      }
      default -> printDrain(out, b);
    }
  }

  /** A dispatcher's flows (forwarding entries, UDP flows): VIP, client, server, age. */
  private static void printFlows(PrintWriter out, JsonNode rows, String vip, String server) {
    out.printf("%-21s %-21s %-16s %10s%n", vip, "CLIENT", server, "AGE_MS");
    for (JsonNode n : rows) {
      out.printf(
          "%-21s %-21s %-16s %10d%n",
          n.path("vip").asText(),
          n.path("client").asText(),
          n.path("server").asText(),
          n.path("ageMs").asLong());
    }
  }

  private static void printDrain(PrintWriter out, JsonNode b) {
    for (JsonNode n : b.path("connections")) out.println(line(n));
    out.printf(
        "drain of %s: %d moved, %d stayed, %d lost, %d closed in %d ms; %d connections still here%n",
        b.path("node").asText(),
        b.path("moved").asLong(),
        b.path("stayed").asLong(),
        b.path("lost").asLong(),
        b.path("closed").asLong(),
        b.path("tookMs").asLong(),
        b.path("remaining").asLong());
  }

  private static String line(JsonNode n) {
    return n.path("client").asText()
        + " -> "
        + n.path("vip").asText()
        + ": "
        + n.path("outcome").asText()
        + (n.path("to").asText().isEmpty() ? "" : " to " + n.path("to").asText())
        + (n.has("detail") ? " (" + n.path("detail").asText() + ")" : "")
        + (n.path("outcome").asText().equals("moved")
            ? String.format(
                " in %.2f ms after a %.2f ms wait for its safe" + " point",
                n.path("moveMicros").asLong() / 1000.0, n.path("safePointMicros").asLong() / 1000.0)
            : "");
  }

  private static int usage(PrintWriter err, String why) {
    err.println("baton ctl: " + why);
    err.flush();
    return ExitCode.USAGE;
  }
}
