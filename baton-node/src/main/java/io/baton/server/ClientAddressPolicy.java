package io.baton.server;

import io.baton.linux.IpText;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Which client addresses a server restores connections for. A HANDOFF names the connection's
 * client; a forged or buggy one naming loopback, this host or an address on the farm's internal
 * networks (fabric, sync) would give its sender a socket that talks to the farm itself, so such
 * handoffs are refused. Clients on the front network are allowed: in small farms (and the lab) they
 * share it with the dispatchers. Immutable; built from the kernel's view of the devices.
 */
final class ClientAddressPolicy {
  /** One IPv4 or IPv6 network: address bytes (4 or 16) and prefix length. */
  record Network(byte[] address, int prefix) {
    Network {
      address = address.clone();
      if (address.length != 4 && address.length != 16) {
        throw new IllegalArgumentException("an address has 4 or 16 bytes, not " + address.length);
      }
      if (prefix < 0 || prefix > address.length * 8) {
        throw new IllegalArgumentException("prefix /" + prefix + " out of range");
      }
    }

    /** The network of {@code a}/{@code prefix}. */
    static Network of(InetAddress a, int prefix) {
      return new Network(a.getAddress(), prefix);
    }

    /** Whether {@code a} lies in this network; an address of the other family never does. */
    boolean contains(InetAddress a) {
      byte[] b = a.getAddress();
      if (b.length != address.length) return false;
      int full = prefix / 8;
      for (int i = 0; i < full; i++) if (b[i] != address[i]) return false;
      int rest = prefix % 8;
      if (rest == 0) return true;
      int mask = (0xff << (8 - rest)) & 0xff;
      return (b[full] & mask) == (address[full] & mask);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Network n && prefix == n.prefix && Arrays.equals(address, n.address);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(address) * 31 + prefix;
    }

    @Override
    public String toString() {
      try {
        return IpText.of(InetAddress.getByAddress(address)) + "/" + prefix;
      } catch (java.net.UnknownHostException e) {
        throw new AssertionError(e);
      }
    }
  }

  private final List<Network> internal;
  private final java.util.Set<InetAddress> local;

  ClientAddressPolicy(List<Network> internal) {
    this(internal, java.util.Set.of());
  }

  private ClientAddressPolicy(List<Network> internal, java.util.Set<InetAddress> local) {
    this.internal = List.copyOf(internal);
    this.local = java.util.Set.copyOf(local);
  }

  /**
   * The networks of {@code devices} as the kernel has them (call in the node's network namespace);
   * devices that do not exist are skipped.
   */
  static ClientAddressPolicy ofDevices(List<String> devices) throws SocketException {
    // This host's own addresses, read once: enumerating the interfaces per handoff would cost
    // a netlink dump on the fabric event loop each time.
    java.util.Set<InetAddress> local = new java.util.HashSet<>();
    for (NetworkInterface nif :
        java.util.Collections.list(NetworkInterface.getNetworkInterfaces())) {
      local.addAll(java.util.Collections.list(nif.getInetAddresses()));
    }
    return new ClientAddressPolicy(networksOf(devices), local);
  }

  /**
   * The IPv4 and IPv6 networks of {@code devices} as the kernel has them; missing devices are
   * skipped.
   */
  static List<Network> networksOf(List<String> devices) throws SocketException {
    List<Network> nets = new ArrayList<>();
    for (String d : devices) {
      NetworkInterface nif = NetworkInterface.getByName(d);
      if (nif == null) continue;
      for (InterfaceAddress ia : nif.getInterfaceAddresses()) {
        InetAddress a = ia.getAddress();
        if (a instanceof Inet4Address || a instanceof Inet6Address) {
          nets.add(Network.of(a, ia.getNetworkPrefixLength()));
        }
      }
    }
    return nets;
  }

  /** Why {@code client} must not be restored, or empty if it may. */
  Optional<String> refusal(InetAddress client) {
    if (client.isLoopbackAddress()
        || client.isAnyLocalAddress()
        || client.isMulticastAddress()
        || (client instanceof Inet6Address && client.isLinkLocalAddress())) {
      return Optional.of("client address " + IpText.of(client) + " is not a remote host");
    }
    for (Network n : internal) {
      if (n.contains(client)) {
        return Optional.of(
            "client address " + IpText.of(client) + " lies in the farm's internal network " + n);
      }
    }
    if (local.contains(client)) {
      return Optional.of("client address " + IpText.of(client) + " belongs to this host");
    }
    return Optional.empty();
  }
}
