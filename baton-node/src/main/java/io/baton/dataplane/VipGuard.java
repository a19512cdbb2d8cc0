package io.baton.dataplane;

import io.baton.linux.LinuxException;
import io.baton.linux.Nftables;
import java.util.Collection;
import java.util.stream.Collectors;

/**
 * The server's guard for its virtual addresses: an nftables table (inet prerouting, priority -150)
 * that accepts VIP traffic only when it belongs to a transparent socket (every restored connection
 * and Baton listener sets {@code IP_TRANSPARENT}) and drops the rest.
 *
 * <p>Why: a forwarded client packet that reaches the server before the handed-off socket has been
 * restored would otherwise meet no socket and be answered with a RST, killing the connection.
 * Dropped, it is simply retransmitted. ({@code socket mark} cannot do this job: it does not see
 * sockets still in the handshake.)
 *
 * <p>Its output chain drops what a socket marked {@link
 * io.baton.transplant.ConnectionExporter#FROZEN_MARK} sends: a connection this server is migrating
 * to another is held that way, as a dispatcher holds one it hands off.
 *
 * <p>Confined to the thread that created it, which must be in the server's network namespace.
 */
public final class VipGuard implements AutoCloseable {
  public static final String DEFAULT_TABLE = "baton_guard";

  private final Nftables nft;
  private final String table;
  private boolean closed;

  private VipGuard(Nftables nft, String table) {
    this.nft = nft;
    this.table = table;
  }

  /** Installs the guard for {@code vips}, replacing a stale table of the same name atomically. */
  public static VipGuard install(String table, Collection<Vip> vips) throws LinuxException {
    if (vips.isEmpty()) throw new IllegalArgumentException("no VIPs to guard");
    String list =
        vips.stream().filter(v -> !v.ipv6()).map(Vip::toNft).collect(Collectors.joining(", "));
    String list6 =
        vips.stream().filter(Vip::ipv6).map(Vip::toNft).collect(Collectors.joining(", "));
    // The IPv4 text is what it was before IPv6; the IPv6 set and rules are there only for IPv6
    // VIPs. `socket transparent` finds IPv6 sockets as IPv4 ones (nft_socket looks up both
    // families), and a restored AF_INET6 socket sets IPV6_TRANSPARENT, the same socket flag.
    String batch =
        "table inet "
            + table
            + "\n"
            + "delete table inet "
            + table
            + "\n"
            + "table inet "
            + table
            + " {\n"
            + (list.isEmpty()
                ? "  set vips { type ipv4_addr . inet_service; }\n"
                : "  set vips { type ipv4_addr . inet_service; elements = { " + list + " } }\n")
            + (list6.isEmpty()
                ? ""
                : "  set vips6 { type ipv6_addr . inet_service; elements = { " + list6 + " } }\n")
            + "  counter dropped { }\n"
            + "  chain prerouting {\n"
            + "    type filter hook prerouting priority -150; policy accept;\n"
            + "    ip daddr . tcp dport @vips socket transparent 1 accept\n"
            + "    ip daddr . tcp dport @vips counter name dropped drop\n"
            + (list6.isEmpty()
                ? ""
                : "    ip6 daddr . tcp dport @vips6 socket transparent 1 accept\n"
                    + "    ip6 daddr . tcp dport @vips6 counter name dropped drop\n")
            + "  }\n"
            // A connection this server is moving to another (live migration) is frozen: its
            // socket's timers must not send what the new owner believes unsent.
            + "  chain output {\n"
            + "    type filter hook output priority 0; policy accept;\n"
            + "    meta mark "
            + String.format("0x%08x", io.baton.transplant.ConnectionExporter.FROZEN_MARK)
            + " drop\n"
            + "  }\n"
            + "}\n";
    Nftables nft = Nftables.open();
    try {
      nft.run(batch);
    } catch (LinuxException e) {
      nft.close();
      throw e;
    }
    return new VipGuard(nft, table);
  }

  /** Packets the guard has dropped so far (each one a retransmission, never a reset). */
  public long droppedPackets() throws LinuxException {
    String out = nft.run("list counter inet " + table + " dropped");
    var m = java.util.regex.Pattern.compile("packets (\\d+)").matcher(out);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  @Override
  public void close() throws LinuxException {
    if (closed) return;
    closed = true;
    try {
      nft.run("delete table inet " + table);
    } finally {
      nft.close();
    }
  }
}
