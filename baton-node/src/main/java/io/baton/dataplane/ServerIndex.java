package io.baton.dataplane;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The servers that {@link FlowEntries} forward to, each named by a small number so that an entry
 * stores 4 bytes instead of a reference to an address object, with a count of entries per server. A
 * farm has few servers and a dispatcher many connections: numbers are handed out once and never
 * reused, so the table grows by one slot per distinct server fabric address ever seen.
 *
 * <p>Confined to the thread that owns its {@link FlowEntries}.
 */
final class ServerIndex {
  private Inet4Address[] addresses = new Inet4Address[8];
  private int[] bits = new int[8];
  private long[] entries = new long[8];
  private int count;
  // Open addressing over address bits -> number + 1 (0 = empty); load <= 1/2.
  private int[] byBits = new int[16];

  /** The number of {@code server}, handing out the next one if it has none yet. */
  int indexOf(Inet4Address server) {
    return indexOfBits(bitsOf(server), server);
  }

  /**
   * The number of the server whose address is {@code addressBits} (network order as an int),
   * without allocating if it has one already.
   */
  int indexOfBits(int addressBits) {
    return indexOfBits(addressBits, null);
  }

  private int indexOfBits(int addressBits, Inet4Address known) {
    int mask = byBits.length - 1;
    for (int s = mix(addressBits) & mask; ; s = (s + 1) & mask) {
      int v = byBits[s];
      if (v == 0) break;
      if (bits[v - 1] == addressBits) return v - 1;
    }
    if (count == addresses.length) {
      addresses = Arrays.copyOf(addresses, count * 2);
      bits = Arrays.copyOf(bits, count * 2);
      entries = Arrays.copyOf(entries, count * 2);
    }
    int index = count++;
    addresses[index] = known != null ? known : toAddress(addressBits);
    bits[index] = addressBits;
    if (count * 2 > byBits.length) {
      byBits = new int[byBits.length * 2];
      for (int i = 0; i < count; i++) insert(i);
    } else {
      insert(index);
    }
    return index;
  }

  private void insert(int index) {
    int mask = byBits.length - 1;
    int s = mix(bits[index]) & mask;
    while (byBits[s] != 0) s = (s + 1) & mask;
    byBits[s] = index + 1;
  }

  /** The number of {@code server}, or -1 if it has none (no allocation). */
  int find(Inet4Address server) {
    int b = bitsOf(server);
    int mask = byBits.length - 1;
    for (int s = mix(b) & mask; ; s = (s + 1) & mask) {
      int v = byBits[s];
      if (v == 0) return -1;
      if (bits[v - 1] == b) return v - 1;
    }
  }

  Inet4Address address(int index) {
    return addresses[index];
  }

  void added(int index) {
    entries[index]++;
  }

  void removed(int index) {
    entries[index]--;
  }

  long entries(int index) {
    return entries[index];
  }

  /** Servers with at least one entry, in the order they were first seen. */
  Set<Inet4Address> withEntries() {
    Set<Inet4Address> out = new LinkedHashSet<>();
    for (int i = 0; i < count; i++) if (entries[i] > 0) out.add(addresses[i]);
    return out;
  }

  static int bitsOf(Inet4Address a) {
    byte[] b = a.getAddress();
    return (b[0] & 0xFF) << 24 | (b[1] & 0xFF) << 16 | (b[2] & 0xFF) << 8 | (b[3] & 0xFF);
  }

  static Inet4Address toAddress(int bits) {
    try {
      return (Inet4Address)
          InetAddress.getByAddress(
              new byte[] {
                (byte) (bits >>> 24), (byte) (bits >>> 16), (byte) (bits >>> 8), (byte) bits
              });
    } catch (UnknownHostException e) {
      throw new IllegalStateException("4 bytes are always an IPv4 address", e);
    }
  }

  private static int mix(int x) {
    x *= 0x9E3779B9;
    return x ^ (x >>> 16);
  }
}
