package io.baton.dataplane;

import io.baton.linux.Addresses;
import io.baton.linux.Errno;
import io.baton.linux.LinuxException;
import io.baton.linux.Sysctl;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

/**
 * Checks, and on request applies, what a server host needs before it can take handed-off
 * connections for its virtual addresses (see docs/design.md, "Server side of DSR"):
 *
 * <ul>
 *   <li>each VIP on {@code lo}, or on another interface of a node that also dispatches (the
 *       restored sockets bind to it and answer from it);
 *   <li>{@code arp_ignore=1} and {@code arp_announce=2}, so the server never answers ARP for a VIP
 *       the dispatcher owns on the front network;
 *   <li>reverse-path filtering off or loose ({@code rp_filter} 0 or 2) on the fabric interface,
 *       because forwarded client packets arrive there with the client's address as source.
 * </ul>
 *
 * The nftables guard ({@link VipGuard}) is installed by the agent itself. Every problem is one line
 * that says what is wrong and what to run. Reads and changes sysctls and addresses through the
 * Linux door ({@link Sysctl}, {@link Addresses}), in the calling thread's network namespace.
 * Stateless; not meant for concurrent use.
 */
public final class HostPreparation {
  private static final String VIP_DEVICE = "lo";

  private HostPreparation() {}

  /** Problems found; empty when the host is ready. */
  public static List<String> check(Collection<Inet4Address> vips, String fabricDevice) {
    List<String> problems = new ArrayList<>();
    List<InetAddress> local = localAddresses(problems);
    for (Inet4Address vip : vips) {
      if (!local.contains(vip)) {
        problems.add(
            "VIP "
                + vip.getHostAddress()
                + " is not configured on this host: run `ip addr add "
                + vip.getHostAddress()
                + "/32 dev lo` (or start with apply-host-preparation: true)");
      }
    }
    expect(problems, "net.ipv4.conf.all.arp_ignore", List.of("1", "2"), "1");
    expect(problems, "net.ipv4.conf.all.arp_announce", List.of("2"), "2");
    expect(problems, "net.ipv4.conf.all.rp_filter", List.of("0", "2"), "2");
    expect(
        problems, Sysctl.key("net.ipv4.conf", fabricDevice, "rp_filter"), List.of("0", "2"), "2");
    return problems;
  }

  /**
   * Applies what {@link #check} would complain about; returns what was changed (one line each).
   * Throws with a clear message when a change fails.
   */
  public static List<String> apply(Collection<Inet4Address> vips, String fabricDevice)
      throws IOException {
    List<String> changes = new ArrayList<>();
    // A VIP already on another interface (a dispatcher that is also a server) is left there.
    List<InetAddress> local = localAddresses(new ArrayList<>());
    for (Inet4Address vip : vips) {
      if (!local.contains(vip) && addToLoopback(vip)) {
        changes.add("added " + vip.getHostAddress() + "/32 to " + VIP_DEVICE);
      }
    }
    changes.addAll(setIfNot("net.ipv4.conf.all.arp_ignore", List.of("1", "2"), "1"));
    changes.addAll(setIfNot("net.ipv4.conf.all.arp_announce", List.of("2"), "2"));
    changes.addAll(setIfNot("net.ipv4.conf.all.rp_filter", List.of("0", "2"), "2"));
    changes.addAll(
        setIfNot(Sysctl.key("net.ipv4.conf", fabricDevice, "rp_filter"), List.of("0", "2"), "2"));
    return changes;
  }

  private static void expect(List<String> problems, String key, List<String> ok, String fix) {
    String value = read(key);
    if (value == null) {
      problems.add(key + " cannot be read (is the device name right?)");
    } else if (!ok.contains(value)) {
      problems.add(
          key
              + " is "
              + value
              + ", needs "
              + String.join(" or ", ok)
              + ": run `sysctl -w "
              + key
              + "="
              + fix
              + "` (or start with apply-host-preparation: true)");
    }
  }

  /** Adds {@code vip}/32 to lo; false if it was there already (another process got there first). */
  private static boolean addToLoopback(Inet4Address vip) throws IOException {
    try {
      Addresses.add(VIP_DEVICE, vip, 32);
      return true;
    } catch (LinuxException e) {
      if (e.errno() == Errno.EEXIST) return false;
      throw new IOException(
          "cannot add " + vip.getHostAddress() + "/32 to " + VIP_DEVICE + ": " + e.getMessage(), e);
    }
  }

  /**
   * The sysctl that moves a closing listener's queued connections to another of its SO_REUSEPORT
   * group.
   */
  public static final String LISTENER_QUEUE_MIGRATION = "net.ipv4.tcp_migrate_req";

  /**
   * Turns on {@value #LISTENER_QUEUE_MIGRATION} in this network namespace (Linux 5.14+): when a
   * dispatcher closes its listeners for a planned reload, the connections the kernel accepted for
   * them but the process did not yet move to the new process's listeners instead of being reset.
   * Returns what it changed (empty when it was on).
   */
  public static List<String> enableListenerQueueMigration() throws IOException {
    return setIfNot(LISTENER_QUEUE_MIGRATION, List.of("1"), "1");
  }

  private static List<String> setIfNot(String key, List<String> ok, String value)
      throws IOException {
    String current = read(key);
    if (current != null && ok.contains(current)) return List.of();
    try {
      Sysctl.write(key, value);
    } catch (LinuxException | IllegalArgumentException e) {
      throw new IOException("cannot set " + key + "=" + value + ": " + e.getMessage(), e);
    }
    return List.of("set " + key + "=" + value + (current == null ? "" : " (was " + current + ")"));
  }

  /** The value of {@code key}, or null if it cannot be read (no such key or device, a bad name). */
  private static String read(String key) {
    try {
      return Sysctl.read(key).strip();
    } catch (LinuxException | IllegalArgumentException e) {
      return null;
    }
  }

  private static List<InetAddress> localAddresses(List<String> problems) {
    try {
      List<InetAddress> all = new ArrayList<>();
      for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        all.addAll(Collections.list(nif.getInetAddresses()));
      }
      return all;
    } catch (SocketException e) {
      problems.add("cannot list this host's addresses: " + e.getMessage());
      return List.of();
    }
  }
}
