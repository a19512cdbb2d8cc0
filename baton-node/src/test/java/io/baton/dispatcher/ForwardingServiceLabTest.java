package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.forwarding.Vip;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The dispatcher's forwarding service against the kernel's nftables in a lab namespace. */
@Tag("lab")
class ForwardingServiceLabTest {
  private static final Duration GRACE = Duration.ofMillis(300);

  @Test
  void aClosedConnectionsEntryLeavesAfterTheGraceButNotANewerOneOnTheSamePort() throws Exception {
    try (Lab lab = Lab.create("fwd-service")) {
      Host d = lab.host("d");
      d.attach(lab.segment("front"), "198.18.0.1/24");
      d.attach(lab.segment("fabric"), "198.18.1.1/24");
      Vip vip = new Vip(ip("198.18.0.100"), 80);
      ForwardingService service = d.call(() -> ForwardingService.start("baton_fwd_test", "front", "fabric",
          List.of(vip), Duration.ofMinutes(10), GRACE));
      try {
        FlowKey reused = new FlowKey(ip("198.18.0.10"), 40000, vip.address(), 80);
        FlowKey other = new FlowKey(ip("198.18.0.10"), 40001, vip.address(), 80);
        service.freezeAndForward(reused, ip("198.18.1.11")).get(5, TimeUnit.SECONDS);
        service.freezeAndForward(other, ip("198.18.1.12")).get(5, TimeUnit.SECONDS);
        service.unfreeze(reused).get(5, TimeUnit.SECONDS);
        service.unfreeze(other).get(5, TimeUnit.SECONDS);
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isEqualTo(2);

        // Both close; the client then opens a new connection from the same port at once.
        service.retire(reused);
        service.retire(other);
        service.freezeAndForward(reused, ip("198.18.1.13")).get(5, TimeUnit.SECONDS);
        service.unfreeze(reused).get(5, TimeUnit.SECONDS);

        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (service.size().get(5, TimeUnit.SECONDS) != 1) {
          assertThat(System.nanoTime()).as("grace period passed for the old entries").isLessThan(deadline);
          Thread.sleep(20); // polling interval of a deadline-bounded wait
        }
        assertThat(service.removedTotal()).as("only the other connection's entry left").isEqualTo(1);
        String listed = d.execOrThrow("nft", "list", "map", "netdev", "baton_fwd_test", "owner").stdout();
        assertThat(listed).contains("198.18.0.10 . 40000").contains("198.18.1.13").doesNotContain("40001");

        service.retire(reused);
        while (service.size().get(5, TimeUnit.SECONDS) != 0) {
          assertThat(System.nanoTime()).as("grace period passed for the new entry").isLessThan(deadline);
          Thread.sleep(20); // polling interval of a deadline-bounded wait
        }
      } finally {
        service.close();
      }
      assertThat(d.exec("nft", "list", "tables").stdout()).doesNotContain("baton_fwd_test");
    }
  }

  private static Inet4Address ip(String text) throws Exception {
    return (Inet4Address) InetAddress.getByName(text);
  }
}
