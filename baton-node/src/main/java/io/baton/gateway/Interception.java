package io.baton.gateway;

import io.baton.gateway.registration.Registration;
import io.baton.linux.LinuxException;
import io.baton.linux.Nftables;
import java.util.List;
import java.util.StringJoiner;

/**
 * The gateway's nftables table {@value #TABLE}: TCP packets to a registered address:port are
 * sent by TPROXY to the transparent intercept listener; packets of connections already
 * intercepted (a transparent socket owns them) are delivered locally even after their
 * registration lapsed; everything else is untouched and routed by the kernel. Both rules set
 * mark {@link #MARK}, which a policy rule routes to local delivery ({@link GatewayHost}).
 *
 * <p>Thread-safe: the registration daemon's thread updates the set, under this object's lock.
 */
public final class Interception implements AutoCloseable {
  public static final String TABLE = "baton_gateway";
  public static final int MARK = 0x4247;

  private final Nftables nft;

  private Interception(Nftables nft) {
    this.nft = nft;
  }

  /** Replaces any table of that name with an empty one sending to {@code interceptPort}. */
  public static Interception install(int interceptPort) throws LinuxException {
    Nftables nft = Nftables.open();
    try {
      nft.run("table ip " + TABLE + "\ndelete table ip " + TABLE + "\n"
          + "table ip " + TABLE + " {\n"
          + "  set registered { type ipv4_addr . inet_service; }\n"
          + "  chain prerouting {\n"
          + "    type filter hook prerouting priority mangle; policy accept;\n"
          + "    meta l4proto tcp socket transparent 1 meta mark set " + MARK + " accept\n"
          + "    meta l4proto tcp ip daddr . tcp dport @registered tproxy to :" + interceptPort
          + " meta mark set " + MARK + " accept\n"
          + "  }\n"
          + "}\n");
    } catch (LinuxException e) {
      nft.close();
      throw e;
    }
    return new Interception(nft);
  }

  /** Makes the set hold exactly the address:port pairs of {@code registrations}, atomically. */
  public synchronized void update(List<Registration> registrations) {
    StringBuilder commands = new StringBuilder("flush set ip " + TABLE + " registered\n");
    StringJoiner elements = new StringJoiner(", ");
    for (Registration r : registrations) {
      for (int port : r.ports()) elements.add(r.remote().getHostAddress() + " . " + port);
    }
    if (elements.length() > 0) commands.append("add element ip " + TABLE + " registered { " + elements + " }\n");
    try {
      nft.run(commands.toString());
    } catch (LinuxException e) {
      throw new IllegalStateException("updating the interception set failed: " + e.getMessage(), e);
    }
  }

  @Override
  public synchronized void close() {
    try {
      nft.run("delete table ip " + TABLE + "\n");
    } catch (LinuxException e) {
      // Already gone: nothing to undo.
    } finally {
      nft.close();
    }
  }
}
