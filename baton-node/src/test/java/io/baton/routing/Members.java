package io.baton.routing;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Test members on the lab's fabric network (198.18.1.0/24), and pick statistics. */
final class Members {
  private Members() {}

  static Member member(String node, int weight) {
    int host = 10 + Math.floorMod(node.hashCode(), 200);
    Inet4Address fabric = ipv4(198, 18, 1, host);
    return new Member(node, new InetSocketAddress(fabric, 7400), fabric, weight, false);
  }

  /** Members {@code n0..n(k-1)} with the given weights. */
  static List<Member> weighted(int... weights) {
    List<Member> members = new ArrayList<>();
    for (int i = 0; i < weights.length; i++) members.add(member("n" + i, weights[i]));
    return members;
  }

  static Inet4Address ipv4(int a, int b, int c, int d) {
    try {
      return (Inet4Address)
          InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /** A client address from a counter, spread over 198.18.0.0/15. */
  static Inet4Address client(int i) {
    return ipv4(198, 18 + ((i >>> 16) & 1), (i >>> 8) & 0xff, i & 0xff);
  }

  static Map<String, Integer> count(List<Member> picks) {
    Map<String, Integer> counts = new TreeMap<>();
    for (Member m : picks) counts.merge(m.node(), 1, Integer::sum);
    return counts;
  }
}
