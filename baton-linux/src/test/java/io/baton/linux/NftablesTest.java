package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * libnftables through FFM. Every context is opened on the private namespace's thread, so every
 * table lives (and dies) with that namespace; nothing touches the root namespace's ruleset.
 */
@PrivateNamespace
class NftablesTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  @Test
  void libraryIsAvailable() {
    assertThat(Nftables.isAvailable()).isTrue();
    assertThat(Nftables.unavailabilityCause()).isEmpty();
  }

  @Test
  void batchCreatesATableInTheThreadsNamespaceOnly() throws Exception {
    String listed =
        ns.call(
            () -> {
              try (Nftables nft = Nftables.open()) {
                String out =
                    nft.run(
                        "add table inet bt_door_a\n"
                            + "add chain inet bt_door_a out { type filter hook output priority 0; policy accept; }\n"
                            + "add rule inet bt_door_a out tcp dport 9 counter\n");
                assertThat(out).isEmpty();
                String tables = nft.run("list tables");
                assertThat(tables).contains("table inet bt_door_a");
                String table = nft.run("list table inet bt_door_a");
                assertThat(table).contains("chain out").contains("tcp dport 9 counter");
                nft.run("delete table inet bt_door_a");
                assertThat(nft.run("list tables")).doesNotContain("bt_door_a");
                nft.run("add table inet bt_door_a");
                return nft.run("list tables");
              }
            });
    assertThat(listed).contains("table inet bt_door_a");
    // Seen from the namespace by the nft tool, and not from the root namespace.
    assertThat(PrivateNetns.command("ip", "netns", "exec", ns.name(), "nft", "list", "tables"))
        .contains("table inet bt_door_a");
    assertThat(PrivateNetns.command("nft", "list", "tables")).doesNotContain("bt_door_a");
  }

  @Test
  void syntaxErrorThrowsWithNftsErrorText() throws Exception {
    ns.run(
        () -> {
          try (Nftables nft = Nftables.open()) {
            assertThatThrownBy(() -> nft.run("add tabel inet bt_door_b"))
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> {
                      assertThat(e.call()).isEqualTo("nft");
                      assertThat(e.errno()).isZero();
                      assertThat(e.getMessage())
                          .startsWith("nft failed: ")
                          .contains("Error:")
                          .contains("tabel");
                    });
            // The context stays usable after a failure.
            assertThat(nft.run("list tables")).doesNotContain("bt_door_b");
          }
        });
  }

  @Test
  void aBatchIsAtomic() throws Exception {
    ns.run(
        () -> {
          try (Nftables nft = Nftables.open()) {
            assertThatThrownBy(
                    () -> nft.run("add table inet bt_door_c\nadd chain inet bt_door_missing c\n"))
                .isInstanceOf(LinuxException.class)
                .hasMessageContaining("Error:");
            assertThat(nft.run("list tables")).doesNotContain("bt_door_c");
          }
        });
  }

  @Test
  void aContextIsConfinedToItsThread() throws Exception {
    Nftables nft = ns.call(Nftables::open);
    try {
      // This (test) thread is not the owner.
      assertThatThrownBy(() -> nft.run("list tables"))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("belongs to thread netns-" + ns.name());
      assertThatThrownBy(() -> nft.setOutputFlags(Nftables.OUTPUT_JSON))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(nft::close).isInstanceOf(IllegalStateException.class);
      // Nor is any other thread.
      Throwable other =
          CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      nft.run("list tables");
                      return null;
                    } catch (Throwable t) {
                      return t;
                    }
                  })
              .get(30, TimeUnit.SECONDS);
      assertThat(other).isInstanceOf(IllegalStateException.class);
      // The owner still can.
      assertThat(ns.call(() -> nft.run("list tables"))).isNotNull();
    } finally {
      ns.run(nft::close);
    }
  }

  @Test
  void closeTwiceIsFineAndUseAfterCloseIsNot() throws Exception {
    ns.run(
        () -> {
          Nftables nft = Nftables.open();
          nft.close();
          nft.close();
          assertThatThrownBy(() -> nft.run("list tables"))
              .isInstanceOf(IllegalStateException.class)
              .hasMessage("nftables context is closed");
        });
  }

  @Test
  void jsonOutputFlagGivesJson() throws Exception {
    ns.run(
        () -> {
          try (Nftables nft = Nftables.open()) {
            nft.run("add table ip bt_door_json");
            nft.setOutputFlags(Nftables.OUTPUT_JSON);
            String out = nft.run("list tables").strip();
            assertThat(out).startsWith("{\"nftables\": [").endsWith("]}");
            assertThat(out).contains("\"table\": {\"family\": \"ip\", \"name\": \"bt_door_json\"");
            nft.setOutputFlags(0);
            assertThat(nft.run("list tables"))
                .contains("table ip bt_door_json")
                .doesNotContain("{");
            nft.run("delete table ip bt_door_json");
          }
        });
  }
}
