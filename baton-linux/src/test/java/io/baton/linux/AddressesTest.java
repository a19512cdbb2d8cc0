package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet4Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/**
 * Device addresses over rtnetlink, in a private namespace, checked against what iproute2 sees. Each
 * test leaves {@code lo} with 127.0.0.1/8 only.
 */
@PrivateNamespace
class AddressesTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  private static Inet4Address v4(String text) throws Exception {
    return (Inet4Address) InetAddress.getByName(text);
  }

  private static String ipShowLo() throws Exception {
    return PrivateNetns.command("ip", "-n", ns.name(), "-o", "-4", "addr", "show", "dev", "lo");
  }

  @Test
  void addListDeleteOnLoAgreeWithIproute2() throws Exception {
    Inet4Address vip = v4("198.18.0.100");
    Ipv4Prefix loopback = new Ipv4Prefix(v4("127.0.0.1"), 8);
    assertThat(ns.call(() -> Addresses.list("lo"))).containsExactly(loopback);

    ns.run(() -> Addresses.add("lo", vip, 32));
    assertThat(ns.call(() -> Addresses.list("lo")))
        .containsExactly(loopback, new Ipv4Prefix(vip, 32));
    assertThat(ipShowLo()).contains("inet 198.18.0.100/32 scope global lo");
    // The root namespace's lo is untouched.
    assertThat(Addresses.list("lo")).doesNotContain(new Ipv4Prefix(vip, 32));

    ns.run(() -> Addresses.delete("lo", vip, 32));
    assertThat(ns.call(() -> Addresses.list("lo"))).containsExactly(loopback);
    assertThat(ipShowLo()).doesNotContain("198.18.0.100");
  }

  @Test
  void addingTwiceIsEexistAndLeavesOneAddress() throws Exception {
    Inet4Address vip = v4("198.18.0.101");
    ns.run(() -> Addresses.add("lo", vip, 32));
    try {
      assertThatThrownBy(() -> ns.run(() -> Addresses.add("lo", vip, 32)))
          .isInstanceOfSatisfying(
              LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EEXIST))
          .hasMessage("RTM_NEWADDR(198.18.0.101/32 dev lo) failed: File exists (errno 17)");
      assertThat(ipShowLo().lines().filter(l -> l.contains("198.18.0.101/32"))).hasSize(1);
    } finally {
      ns.run(() -> Addresses.delete("lo", vip, 32));
    }
  }

  @Test
  void listingShowsOnlyTheNamedDevice() throws Exception {
    PrivateNetns.command(
        "ip", "-n", ns.name(), "link", "add", "bta", "type", "veth", "peer", "name", "btb");
    try {
      ns.run(() -> Addresses.add("bta", v4("198.18.5.1"), 24));
      ns.run(() -> Addresses.add("bta", v4("198.18.5.2"), 24));
      assertThat(ns.call(() -> Addresses.list("bta")))
          .containsExactly(
              new Ipv4Prefix(v4("198.18.5.1"), 24), new Ipv4Prefix(v4("198.18.5.2"), 24));
      assertThat(ns.call(() -> Addresses.list("btb"))).isEmpty();
      assertThat(
              PrivateNetns.command("ip", "-n", ns.name(), "-o", "-4", "addr", "show", "dev", "bta"))
          .contains("inet 198.18.5.1/24")
          .contains("inet 198.18.5.2/24 scope global secondary");
    } finally {
      PrivateNetns.command("ip", "-n", ns.name(), "link", "del", "bta");
    }
  }

  @Test
  void deletingAnAbsentAddressIsEaddrnotavail() throws Exception {
    Inet4Address vip = v4("198.18.0.102");
    assertThatThrownBy(() -> ns.run(() -> Addresses.delete("lo", vip, 32)))
        .isInstanceOfSatisfying(
            LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EADDRNOTAVAIL))
        .hasMessage(
            "RTM_DELADDR(198.18.0.102/32 dev lo) failed: Cannot assign requested address (errno 99)");
  }

  @Test
  void aMissingDeviceIsEnodevNamingIt() throws Exception {
    Inet4Address vip = v4("198.18.0.103");
    assertThatThrownBy(() -> ns.run(() -> Addresses.add("nosuch0", vip, 32)))
        .isInstanceOfSatisfying(
            LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENODEV))
        .hasMessage("RTM_GETLINK(nosuch0) failed: No such device (errno 19)");
    assertThatThrownBy(() -> ns.run(() -> Addresses.list("nosuch0")))
        .isInstanceOfSatisfying(
            LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENODEV));
  }

  @Test
  void badArgumentsAreRefusedBeforeTheKernel() {
    assertThatThrownBy(() -> Addresses.add("lo", v4("198.18.0.104"), 33))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("IPv4 prefix length 33 is not in 0..32");
    assertThatThrownBy(() -> Addresses.list("a-name-longer-than-15"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
