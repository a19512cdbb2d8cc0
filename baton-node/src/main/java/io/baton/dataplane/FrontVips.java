package io.baton.dataplane;

import io.baton.linux.Addresses;
import io.baton.linux.IpText;
import io.baton.linux.LinuxException;
import java.io.IOException;
import java.net.Inet6Address;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Checks that a dispatcher's IPv6 VIPs are usable on its front interface before it listens.
 *
 * <p>The operator configures the VIP on the front interface; the dispatcher only binds it. Its
 * listeners are transparent ({@code IP_TRANSPARENT}), so the bind succeeds even when the address is
 * missing or still tentative, and the dispatcher would then accept nothing. An IPv6 address added
 * without {@code nodad} is tentative for about a second (duplicate address detection; longer with
 * {@code dad_transmits} or a slow link), during which the kernel does not take connections to it;
 * one whose detection failed (another host answered for it) is never used. So: a tentative VIP is
 * waited for (at most {@link #TENTATIVE_WAIT}), a failed one refuses the start, a missing one is
 * reported (it may sit on another device on purpose). IPv4 VIPs are not checked (no such state).
 *
 * <p>Stateless; acts in the calling thread's network namespace.
 */
public final class FrontVips {
  /** How long a tentative VIP is waited for before the dispatcher refuses to start. */
  public static final Duration TENTATIVE_WAIT = Duration.ofSeconds(5);

  private FrontVips() {}

  /**
   * Waits until no IPv6 VIP of {@code vips} is tentative on {@code device}; throws when one failed
   * duplicate address detection or stays tentative. Returns warnings (one line each) for the VIPs
   * that are not on {@code device} at all.
   */
  public static List<String> awaitUsable(Collection<Vip> vips, String device) throws IOException {
    long deadline = System.nanoTime() + TENTATIVE_WAIT.toNanos();
    while (true) {
      List<String> missing = new ArrayList<>();
      Optional<String> tentative = Optional.empty();
      List<Addresses.Ipv6State> states;
      try {
        states = Addresses.listIpv6(device);
      } catch (LinuxException e) {
        throw new IOException(
            "cannot list the IPv6 addresses of " + device + ": " + e.getMessage(), e);
      }
      for (Vip vip : vips) {
        if (!(vip.address() instanceof Inet6Address v6)) continue;
        Addresses.Ipv6State state =
            states.stream().filter(s -> s.address().equals(v6)).findFirst().orElse(null);
        String text = IpText.of(v6);
        if (state == null) {
          missing.add(
              "IPv6 VIP "
                  + text
                  + " is not on the front interface "
                  + device
                  + ": clients reach it only if it is on another device of this host (`ip addr add "
                  + text
                  + "/64 dev "
                  + device
                  + " nodad`)");
        } else if (state.dadFailed()) {
          throw new IOException(
              "IPv6 VIP "
                  + text
                  + " failed duplicate address detection on "
                  + device
                  + " (another host answers for it; the kernel will not use it): remove that"
                  + " host's address, then `ip addr del` and `ip addr add "
                  + text
                  + "/"
                  + state.prefixLength()
                  + " dev "
                  + device
                  + " nodad`");
        } else if (state.tentative()) {
          tentative = Optional.of(text + "/" + state.prefixLength());
        }
      }
      if (tentative.isEmpty()) return missing;
      if (System.nanoTime() - deadline > 0) {
        throw new IOException(
            "IPv6 VIP "
                + tentative.get()
                + " is still tentative on "
                + device
                + " after "
                + TENTATIVE_WAIT.toSeconds()
                + " s (duplicate address detection): the dispatcher would accept nothing on it;"
                + " configure it with `ip addr add "
                + tentative.get()
                + " dev "
                + device
                + " nodad`");
      }
      try {
        Thread.sleep(50); // polls the kernel's state; nothing to wake on
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for a tentative IPv6 VIP", e);
      }
    }
  }
}
