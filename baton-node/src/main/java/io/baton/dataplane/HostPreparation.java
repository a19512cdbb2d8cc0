package io.baton.dataplane;

import io.baton.linux.Addresses;
import io.baton.linux.Errno;
import io.baton.linux.IpText;
import io.baton.linux.LinuxException;
import io.baton.linux.Sysctl;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
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
 * The two IPv4 sysctls matter only with an IPv4 VIP. An IPv6 VIP goes on {@code lo} as a /128 with
 * {@code nodad} (usable at once), and needs no sysctl: Linux answers a neighbour solicitation only
 * for an address of the interface it arrived on (ndisc_recv_ns looks the target up strictly on that
 * device), never for one on {@code lo} (verified by {@code HostPreparationLabTest}); and IPv6 has
 * no rp_filter (only an nftables {@code fib} rule could drop forwarded packets, which Baton does
 * not install). IPv6 must not be disabled on {@code lo}.
 *
 * <p>The nftables guard ({@link VipGuard}) is installed by the agent itself. Every problem is one
 * line that says what is wrong and what to run. Reads and changes sysctls and addresses through the
 * Linux door ({@link Sysctl}, {@link Addresses}), in the calling thread's network namespace.
 * Stateless; not meant for concurrent use.
 */
public final class HostPreparation {
  private static final String VIP_DEVICE = "lo";

  private HostPreparation() {}

  /** Problems found; empty when the host is ready. */
  public static List<String> check(Collection<? extends InetAddress> vips, String fabricDevice) {
    List<String> problems = new ArrayList<>();
    List<InetAddress> local = localAddresses(problems);
    if (vips.stream().anyMatch(v -> v instanceof Inet6Address)) {
      expect(problems, "net.ipv6.conf." + VIP_DEVICE + ".disable_ipv6", List.of("0"), "0");
    }
    for (InetAddress vip : vips) {
      if (!local.contains(vip)) {
        problems.add(
            "VIP "
                + IpText.of(vip)
                + " is not configured on this host: run `ip addr add "
                + IpText.of(vip)
                + (vip instanceof Inet6Address ? "/128 dev lo nodad" : "/32 dev lo")
                + "` (or start with apply-host-preparation: true)");
      }
    }
    if (vips.stream().noneMatch(v -> v instanceof Inet4Address)) return problems;
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
  public static List<String> apply(Collection<? extends InetAddress> vips, String fabricDevice)
      throws IOException {
    List<String> changes = new ArrayList<>();
    if (vips.stream().anyMatch(v -> v instanceof Inet6Address)) {
      changes.addAll(setIfNot("net.ipv6.conf." + VIP_DEVICE + ".disable_ipv6", List.of("0"), "0"));
    }
    // A VIP already on another interface (a dispatcher that is also a server) is left there.
    List<InetAddress> local = localAddresses(new ArrayList<>());
    for (InetAddress vip : vips) {
      if (!local.contains(vip) && addToLoopback(vip)) {
        changes.add(
            "added "
                + IpText.of(vip)
                + (vip instanceof Inet6Address ? "/128 (nodad)" : "/32")
                + " to "
                + VIP_DEVICE);
      }
    }
    if (vips.stream().noneMatch(v -> v instanceof Inet4Address)) return changes;
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

  /**
   * Adds {@code vip}/32 (IPv4) or /128 (IPv6, nodad) to lo; false if it was there already (another
   * process got there first).
   */
  private static boolean addToLoopback(InetAddress vip) throws IOException {
    try {
      switch (vip) {
        case Inet4Address v4 -> Addresses.add(VIP_DEVICE, v4, 32);
        case Inet6Address v6 -> Addresses.add(VIP_DEVICE, v6, 128);
        default -> throw new IllegalArgumentException("not an IP address: " + vip);
      }
      return true;
    } catch (LinuxException e) {
      if (e.errno() == Errno.EEXIST) return false;
      throw new IOException(
          "cannot add "
              + IpText.of(vip)
              + (vip instanceof Inet6Address ? "/128" : "/32")
              + " to "
              + VIP_DEVICE
              + ": "
              + e.getMessage(),
          e);
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
