package io.baton.transplant;

import io.baton.lab.Host;
import io.baton.linux.Nftables;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Test helper: nftables counters of TCP segments with RST set, sent and received by one lab
 * host. Proof that a move reset nothing.
 */
final class RstCounter {
  private static final Pattern PACKETS = Pattern.compile("packets (\\d+)");
  private final Host host;

  private RstCounter(Host host) {
    this.host = host;
  }

  static RstCounter install(Host host) throws Exception {
    host.call(
        () -> {
          try (Nftables nft = Nftables.open()) {
            nft.run(
                """
                table inet baton_test {
                  counter rst_in { }
                  counter rst_out { }
                  chain input {
                    type filter hook input priority 0; policy accept;
                    tcp flags & rst == rst counter name rst_in
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

  long received() throws Exception {
    return read("rst_in");
  }

  long sent() throws Exception {
    return read("rst_out");
  }

  private long read(String counter) throws Exception {
    return host.call(
        () -> {
          try (Nftables nft = Nftables.open()) {
            Matcher m = PACKETS.matcher(nft.run("list counter inet baton_test " + counter));
            if (!m.find()) throw new IllegalStateException("counter " + counter + " not found");
            return Long.parseLong(m.group(1));
          }
        });
  }
}
