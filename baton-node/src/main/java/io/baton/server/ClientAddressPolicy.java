package io.baton.server;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
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
  /** One IPv4 network: address bits and prefix length. */
  record Network(int address, int prefix) {
    boolean contains(Inet4Address a) {
      return io.baton.linux.Ipv4Prefix.contains(address, prefix, toInt(a));
    }

    @Override
    public String toString() {
      return (address >>> 24)
          + "."
          + ((address >>> 16) & 255)
          + "."
          + ((address >>> 8) & 255)
          + "."
          + (address & 255)
          + "/"
          + prefix;
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

  /** The IPv4 networks of {@code devices} as the kernel has them; missing devices are skipped. */
  static List<Network> networksOf(List<String> devices) throws SocketException {
    List<Network> nets = new ArrayList<>();
    for (String d : devices) {
      NetworkInterface nif = NetworkInterface.getByName(d);
      if (nif == null) continue;
      for (InterfaceAddress ia : nif.getInterfaceAddresses()) {
        if (ia.getAddress() instanceof Inet4Address a4)
          nets.add(new Network(toInt(a4), ia.getNetworkPrefixLength()));
      }
    }
    return nets;
  }

  /** Why {@code client} must not be restored, or empty if it may. */
  Optional<String> refusal(Inet4Address client) {
    if (client.isLoopbackAddress() || client.isAnyLocalAddress() || client.isMulticastAddress()) {
      return Optional.of("client address " + client.getHostAddress() + " is not a remote host");
    }
    for (Network n : internal) {
      if (n.contains(client)) {
        return Optional.of(
            "client address "
                + client.getHostAddress()
                + " lies in the farm's internal network "
                + n);
      }
    }
    if (local.contains(client)) {
      return Optional.of("client address " + client.getHostAddress() + " belongs to this host");
    }
    return Optional.empty();
  }

  static int toInt(InetAddress a) {
    byte[] b = a.getAddress();
    return (b[0] & 255) << 24 | (b[1] & 255) << 16 | (b[2] & 255) << 8 | (b[3] & 255);
  }
}
