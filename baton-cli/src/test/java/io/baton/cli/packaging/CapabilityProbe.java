package io.baton.cli.packaging;

import io.baton.linux.EncapReceiver;
import io.baton.linux.FlowForwarder;
import io.baton.linux.RawTcp;
import io.baton.linux.SocketFilters;
import io.baton.netty.BoundInterface;
import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * Run with a role's capabilities only ({@link UnitCapabilitiesLabTest}): does what needs a
 * capability beyond CAP_NET_ADMIN in that role, on devices {@code args[1]} and {@code args[2]} of
 * the namespace it runs in, and prints {@code ok} or the first failure.
 */
public final class CapabilityProbe {
  private CapabilityProbe() {}

  public static void main(String[] args) throws Exception {
    String role = args[0];
    String a = args[1];
    String b = args[2];
    Inet4Address source = (Inet4Address) InetAddress.getByName("198.18.1.1");
    if (role.equals("unbind")) {
      // Only peer mode's listener binding: "ok" or the reason a node could not start.
      try {
        BoundInterface.unbindableIndexOf(a);
        System.out.println("ok");
      } catch (java.io.IOException e) {
        System.out.println(e.getMessage());
      }
      return;
    }
    // Peer mode (either unit): its VIP listeners are bound to the front and unbound per connection.
    BoundInterface.unbindableIndexOf(a);
    if (role.equals("dispatcher")) {
      String filter = SocketFilters.sharedProgramProblem();
      if (filter != null) throw new IllegalStateException("shared socket filter: " + filter);
      try (var f = FlowForwarder.attach(a, b, new FlowForwarder.Encap(source, 7401, 42L), 1024)) {
        f.counters();
      }
    } else {
      try (var r = EncapReceiver.attach(a, 7401, 42L)) {
        r.counters();
      }
      String raw = RawTcp.problem();
      if (raw != null) throw new IllegalStateException("raw socket: " + raw);
    }
    System.out.println("ok");
  }
}
