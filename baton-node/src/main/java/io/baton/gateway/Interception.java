package io.baton.gateway;

import io.baton.gateway.registration.Registration;
import io.baton.linux.LinuxException;
import io.baton.linux.Nftables;
import java.util.List;
import java.util.StringJoiner;

/**
 * The gateway's nftables table {@value #TABLE}: TCP packets to a registered address:port are sent
 * by TPROXY to the transparent intercept listener; packets of connections already intercepted (a
 * transparent socket owns them) are delivered locally even after their registration lapsed;
 * everything else is untouched and routed by the kernel. Both rules set mark {@link #MARK}, which a
 * policy rule routes to local delivery ({@link GatewayHost}).
 *
 * <p>Thread-safe. A libnftables context belongs to the thread that opened it, so the table has a
 * thread of its own that opens the context at start (before the process holds many descriptors:
 * libnftables uses select(2), see docs/design.md) and runs every change.
 */
public final class Interception implements AutoCloseable {
  public static final String TABLE = "baton_gateway";
  public static final int MARK = 0x4247;

  private final java.util.concurrent.ExecutorService owner;
  private final Nftables nft;

  private Interception(java.util.concurrent.ExecutorService owner, Nftables nft) {
    this.owner = owner;
    this.nft = nft;
  }

  private <T> T onOwner(java.util.concurrent.Callable<T> task) throws LinuxException {
    try {
      return owner.submit(task).get(10, java.util.concurrent.TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof LinuxException l) throw l;
      throw new IllegalStateException(e.getCause());
    } catch (java.util.concurrent.TimeoutException | InterruptedException e) {
      if (e instanceof InterruptedException) Thread.currentThread().interrupt();
      throw new IllegalStateException("nftables did not answer in 10 s", e);
    }
  }

  /** Replaces any table of that name with an empty one sending to {@code interceptPort}. */
  public static Interception install(int interceptPort) throws LinuxException {
    java.util.concurrent.ExecutorService owner =
        java.util.concurrent.Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "baton-interception");
              t.setDaemon(true);
              return t;
            });
    Interception interception;
    try {
      interception =
          new Interception(
              owner, owner.submit(Nftables::open).get(10, java.util.concurrent.TimeUnit.SECONDS));
    } catch (Exception e) {
      owner.shutdownNow();
      if (e instanceof java.util.concurrent.ExecutionException x
          && x.getCause() instanceof LinuxException l) throw l;
      throw new IllegalStateException("cannot open libnftables: " + e, e);
    }
    try {
      interception.onOwner(
          () ->
              interception.nft.run(
                  "table ip "
                      + TABLE
                      + "\ndelete table ip "
                      + TABLE
                      + "\n"
                      + "table ip "
                      + TABLE
                      + " {\n"
                      + "  set registered { type ipv4_addr . inet_service; }\n"
                      + "  chain prerouting {\n"
                      + "    type filter hook prerouting priority mangle; policy accept;\n"
                      + "    meta l4proto tcp socket transparent 1 meta mark set "
                      + MARK
                      + " accept\n"
                      + "    meta l4proto tcp ip daddr . tcp dport @registered tproxy to :"
                      + interceptPort
                      + " meta mark set "
                      + MARK
                      + " accept\n"
                      + "  }\n"
                      + "}\n"));
    } catch (LinuxException | RuntimeException e) {
      interception.close();
      throw e;
    }
    return interception;
  }

  /** Makes the set hold exactly the address:port pairs of {@code registrations}, atomically. */
  public synchronized void update(List<Registration> registrations) {
    StringBuilder commands = new StringBuilder("flush set ip " + TABLE + " registered\n");
    StringJoiner elements = new StringJoiner(", ");
    for (Registration r : registrations) {
      for (int port : r.ports()) elements.add(r.remote().getHostAddress() + " . " + port);
    }
    if (elements.length() > 0)
      commands.append("add element ip " + TABLE + " registered { " + elements + " }\n");
    try {
      onOwner(() -> nft.run(commands.toString()));
    } catch (LinuxException e) {
      throw new IllegalStateException("updating the interception set failed: " + e.getMessage(), e);
    }
  }

  @Override
  public synchronized void close() {
    try {
      onOwner(
          () -> {
            try {
              nft.run("delete table ip " + TABLE + "\n");
            } catch (LinuxException e) {
              // Already gone: nothing to undo.
            }
            nft.close();
            return null;
          });
    } catch (LinuxException | RuntimeException e) {
      // Closing anyway.
    } finally {
      owner.shutdownNow();
    }
  }
}
