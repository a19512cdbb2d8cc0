package io.baton.lab;

import io.baton.linux.Nftables;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * nftables counters of TCP segments with RST set that one lab host receives and sends: the evidence
 * that moving a connection reset nothing. Lives in its own table ({@code baton_rst}) of the host's
 * namespace, which goes away with the lab.
 *
 * <p>Thread-safe: every nftables call runs on the host's own thread.
 */
public final class RstCounter {
  private static final Pattern PACKETS = Pattern.compile("packets (\\d+)");
  private final Host host;

  private RstCounter(Host host) {
    this.host = host;
  }

  /** Installs the counters in {@code host}'s namespace. */
  public static RstCounter install(Host host) throws Exception {
    host.call(
        () -> {
          try (Nftables nft = Nftables.open()) {
            nft.run(
                """
            table inet baton_rst {
              counter rst_in { }
              counter rst_out { }
              set rst_in_flows {
                type ipv4_addr . inet_service . ipv4_addr . inet_service
                flags dynamic
                size 256
              }
              set rst_in_flows6 {
                type ipv6_addr . inet_service . ipv6_addr . inet_service
                flags dynamic
                size 256
              }
              chain input {
                type filter hook input priority 0; policy accept;
                tcp flags & rst == rst counter name rst_in
                meta nfproto ipv4 tcp flags & rst == rst add @rst_in_flows { ip saddr . tcp sport . ip daddr . tcp dport }
                meta nfproto ipv6 tcp flags & rst == rst add @rst_in_flows6 { ip6 saddr . tcp sport . ip6 daddr . tcp dport }
              }
              chain output {
                type filter hook output priority 0; policy accept;
                tcp flags & rst == rst counter name rst_out
              }
            }
            """);
          }
          return null;
        });
    return new RstCounter(host);
  }

  /** RST segments the host has received so far. */
  public long received() throws Exception {
    return read("rst_in");
  }

  /**
   * The flows (sender address and port, then this host's; IPv4 first, then IPv6) of the RSTs
   * received so far, as nftables lists them, for a failure message that says which connection was
   * reset.
   */
  public String receivedFlows() throws Exception {
    return host.call(
        () -> {
          try (Nftables nft = Nftables.open()) {
            String v4 = elements(nft.run("list set inet baton_rst rst_in_flows"));
            String v6 = elements(nft.run("list set inet baton_rst rst_in_flows6"));
            if (v4.isEmpty() && v6.isEmpty()) return "none listed";
            return v4.isEmpty() ? v6 : v6.isEmpty() ? v4 : v4 + ", " + v6;
          }
        });
  }

  private static String elements(String set) {
    int open = set.indexOf("elements = {");
    return open < 0
        ? ""
        : set.substring(open + 12, set.indexOf('}', open)).replaceAll("\\s+", " ").strip();
  }

  /** RST segments the host has sent so far. */
  public long sent() throws Exception {
    return read("rst_out");
  }

  private long read(String counter) throws Exception {
    return host.call(
        () -> {
          try (Nftables nft = Nftables.open()) {
            Matcher m = PACKETS.matcher(nft.run("list counter inet baton_rst " + counter));
            if (!m.find())
              throw new LabException("counter " + counter + " not found in " + host.nsName());
            return Long.parseLong(m.group(1));
          }
        });
  }
}
