package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * /proc/sys through the door, in a private namespace. Network parameters belong to the namespace of
 * the thread that opens the file: the namespace thread changes its own value while the test thread,
 * in the root namespace, reads the root's unchanged.
 */
@PrivateNamespace
class SysctlTest {
  private static final String ARP_IGNORE = "net.ipv4.conf.all.arp_ignore";
  private static PrivateNetns ns; // set by @PrivateNamespace

  @Test
  void aWriteChangesTheOpeningThreadsNamespaceOnly() throws Exception {
    String root = Sysctl.read(ARP_IGNORE);
    assertThat(root).isEqualTo(PrivateNetns.command("sysctl", "-n", ARP_IGNORE).strip());
    String other = root.equals("2") ? "1" : "2";

    String before = ns.call(() -> Sysctl.read(ARP_IGNORE));
    try {
      ns.run(() -> Sysctl.write(ARP_IGNORE, other));
      assertThat(ns.call(() -> Sysctl.read(ARP_IGNORE))).isEqualTo(other);
      // sysctl(8) in the namespace agrees; the root namespace, read by this thread and by
      // sysctl(8), does not change.
      assertThat(
              PrivateNetns.command("ip", "netns", "exec", ns.name(), "sysctl", "-n", ARP_IGNORE)
                  .strip())
          .isEqualTo(other);
      assertThat(Sysctl.read(ARP_IGNORE)).isEqualTo(root);
      assertThat(PrivateNetns.command("sysctl", "-n", ARP_IGNORE).strip()).isEqualTo(root);
    } finally {
      ns.run(() -> Sysctl.write(ARP_IGNORE, before));
    }
  }

  @Test
  void slashAndSwappedKeysReachADeviceWithADotInItsName() throws Exception {
    PrivateNetns.command(
        "ip", "-n", ns.name(), "link", "add", "bt.5", "type", "veth", "peer", "name", "bt.6");
    try {
      ns.run(() -> Sysctl.write("net/ipv4/conf/bt.5/rp_filter", "2"));
      assertThat(ns.call(() -> Sysctl.read("net.ipv4.conf.bt/5.rp_filter"))).isEqualTo("2");
      assertThat(ns.call(() -> Sysctl.read(Sysctl.key("net.ipv4.conf", "bt.6", "rp_filter"))))
          .isNotEqualTo("2");
      assertThat(
              PrivateNetns.command(
                      "ip",
                      "netns",
                      "exec",
                      ns.name(),
                      "sysctl",
                      "-n",
                      "net.ipv4.conf.bt/5.rp_filter")
                  .strip())
          .isEqualTo("2");
    } finally {
      PrivateNetns.command("ip", "-n", ns.name(), "link", "del", "bt.5");
    }
  }

  @Test
  void aValueWithSeveralNumbersReadsAsTheKernelPrintsIt() throws Exception {
    String rmem = ns.call(() -> Sysctl.read("net.ipv4.tcp_rmem"));
    assertThat(rmem).matches("\\d+\t\\d+\t\\d+");
  }

  @Test
  void aMissingDeviceIsEnoentNamingThePath() {
    assertThatThrownBy(() -> ns.run(() -> Sysctl.write("net.ipv4.conf.nosuch.rp_filter", "2")))
        .isInstanceOfSatisfying(
            LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT))
        .hasMessage(
            "open(/proc/sys/net/ipv4/conf/nosuch/rp_filter, O_WRONLY) failed: "
                + "No such file or directory (errno 2)");
    assertThatThrownBy(() -> ns.run(() -> Sysctl.read("net.ipv4.conf.nosuch.rp_filter")))
        .isInstanceOfSatisfying(
            LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT))
        .hasMessage(
            "open(/proc/sys/net/ipv4/conf/nosuch/rp_filter, O_RDONLY) failed: "
                + "No such file or directory (errno 2)");
  }

  @Test
  void aValueTheParameterDoesNotTakeIsEinvalFromWrite() throws Exception {
    String before = ns.call(() -> Sysctl.read(ARP_IGNORE));
    assertThatThrownBy(() -> ns.run(() -> Sysctl.write(ARP_IGNORE, "lots")))
        .isInstanceOfSatisfying(
            LinuxException.class,
            e -> {
              assertThat(e.errno()).isEqualTo(Errno.EINVAL);
              assertThat(e.call()).isEqualTo("write(/proc/sys/net/ipv4/conf/all/arp_ignore)");
            })
        .hasMessageEndingWith("failed: Invalid argument (errno 22)");
    assertThat(ns.call(() -> Sysctl.read(ARP_IGNORE))).isEqualTo(before);
  }

  @Test
  void aReadOnlyParameterRefusesWritingAtOpen() {
    // sysctl_perm checks the table's mode bits even for root (no CAP_DAC_OVERRIDE): 0444 is 0444.
    assertThatThrownBy(() -> ns.run(() -> Sysctl.write("kernel.ostype", "Plan9")))
        .isInstanceOfSatisfying(
            LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EACCES))
        .hasMessage("open(/proc/sys/kernel/ostype, O_WRONLY) failed: Permission denied (errno 13)");
  }
}
