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
              chain input {
                type filter hook input priority 0; policy accept;
                tcp flags & rst == rst counter name rst_in
                meta nfproto ipv4 tcp flags & rst == rst add @rst_in_flows { ip saddr . tcp sport . ip daddr . tcp dport }
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
   * The IPv4 flows (sender address and port, then this host's) of the RSTs received so far, as
   * nftables lists them, for a failure message that says which connection was reset.
   */
  public String receivedFlows() throws Exception {
    return host.call(
        () -> {
          try (Nftables nft = Nftables.open()) {
            String set = nft.run("list set inet baton_rst rst_in_flows");
            int open = set.indexOf("elements = {");
            return open < 0
                ? "none listed"
                : set.substring(open + 12, set.indexOf('}', open)).replaceAll("\\s+", " ").strip();
          }
        });
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
