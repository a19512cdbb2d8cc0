package io.baton.gateway;

import io.baton.linux.LinuxException;
import io.baton.linux.Sysctl;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the host must have for a gateway, checked at start (or made, with {@code
 * apply-host-preparation: true}):
 *
 * <ul>
 *   <li>{@code net.ipv4.ip_forward = 1}: the gateway routes every unregistered packet;
 *   <li>{@code net.ipv4.tcp_slow_start_after_idle = 0}: a trunk idle between transfers keeps its
 *       congestion window (the sysctl is per network namespace, not per socket);
 *   <li>policy rule {@code fwmark 0x4247 lookup 4247} and {@code local 0.0.0.0/0 dev lo table
 *       4247}: intercepted packets, addressed to a remote server, are delivered locally.
 * </ul>
 *
 * <p>Stateless.
 */
public final class GatewayHost {
  static final int ROUTE_TABLE = 4247;

  private GatewayHost() {}

  /** What is missing, one line each, with the command that fixes it; empty when ready. */
  public static List<String> problems() throws LinuxException, IOException {
    List<String> problems = new ArrayList<>();
    if (!Sysctl.read("net.ipv4.ip_forward").equals("1")) {
      problems.add(
          "net.ipv4.ip_forward is off (sysctl -w net.ipv4.ip_forward=1): unregistered traffic would not be routed");
    }
    if (!Sysctl.read("net.ipv4.tcp_slow_start_after_idle").equals("0")) {
      problems.add(
          "net.ipv4.tcp_slow_start_after_idle is on (sysctl -w net.ipv4.tcp_slow_start_after_idle=0)");
    }
    if (!run("ip", "-4", "rule", "show")
        .contains(
            "fwmark 0x" + Integer.toHexString(Interception.MARK) + " lookup " + ROUTE_TABLE)) {
      problems.add(
          "no policy rule for intercepted packets (ip rule add fwmark 0x"
              + Integer.toHexString(Interception.MARK)
              + " lookup "
              + ROUTE_TABLE
              + ")");
    }
    // "table all": on a host that never had the table, "show table 4247" is an error.
    if (run("ip", "-4", "route", "show", "table", "all")
        .lines()
        .noneMatch(
            l -> l.startsWith("local default dev lo") && l.contains("table " + ROUTE_TABLE))) {
      problems.add(
          "no local route for intercepted packets (ip route add local 0.0.0.0/0 dev lo table "
              + ROUTE_TABLE
              + ")");
    }
    return problems;
  }

  /** Makes every setting of {@link #problems}. */
  public static void apply() throws LinuxException, IOException {
    Sysctl.write("net.ipv4.ip_forward", "1");
    Sysctl.write("net.ipv4.tcp_slow_start_after_idle", "0");
    String mark = "0x" + Integer.toHexString(Interception.MARK);
    if (!run("ip", "-4", "rule", "show").contains("fwmark " + mark + " lookup " + ROUTE_TABLE)) {
      run("ip", "-4", "rule", "add", "fwmark", mark, "lookup", String.valueOf(ROUTE_TABLE));
    }
    run(
        "ip",
        "-4",
        "route",
        "replace",
        "local",
        "0.0.0.0/0",
        "dev",
        "lo",
        "table",
        String.valueOf(ROUTE_TABLE));
  }

  private static String run(String... command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish in 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.exitValue() != 0)
      throw new IOException(String.join(" ", command) + " failed: " + out.strip());
    return out;
  }
}
