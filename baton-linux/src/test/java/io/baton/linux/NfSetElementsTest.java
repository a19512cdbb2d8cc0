package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.linux.NfSetElements.Add;
import io.baton.linux.NfSetElements.Change;
import io.baton.linux.NfSetElements.Delete;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Set element changes over nf_tables netlink, checked against what libnftables lists. The table
 * mirrors the dispatcher's: a netdev table on a veth device with an {@code owner} map and a {@code
 * frozen} set keyed by {@code ipv4_addr . inet_service}. Everything happens on the private
 * namespace's thread; the root namespace's ruleset is never touched.
 */
@PrivateNamespace
class NfSetElementsTest {
  private static final String TABLE = "bt_door_elems";
  private static PrivateNetns ns; // set by @PrivateNamespace

  @BeforeAll
  static void setUp() throws Exception {
    PrivateNetns.command(
        "ip", "-n", ns.name(), "link", "add", "front", "type", "veth", "peer", "name", "fabric");
  }

  @BeforeEach
  void freshTable() throws Exception {
    ns.run(
        () -> {
          try (Nftables nft = Nftables.open()) {
            nft.run(
                "table netdev "
                    + TABLE
                    + "\n"
                    + "delete table netdev "
                    + TABLE
                    + "\n"
                    + "table netdev "
                    + TABLE
                    + " {\n"
                    + "  map owner { type ipv4_addr . inet_service : ipv4_addr; flags timeout; timeout 60s; }\n"
                    + "  set frozen { type ipv4_addr . inet_service; flags timeout; timeout 60s; }\n"
                    + "  map flows { type ipv4_addr . inet_service . ipv4_addr . inet_service : ipv4_addr; }\n"
                    + "  map flows6 { type ipv6_addr . inet_service . ipv6_addr . inet_service : ipv6_addr; }\n"
                    + "  chain ingress {\n"
                    + "    type filter hook ingress device \"front\" priority 0; policy accept;\n"
                    + "    fwd ip to ip saddr . tcp sport map @owner device \"fabric\"\n"
                    + "  }\n"
                    + "}\n");
          }
        });
  }

  @Test
  void keysOfAnAddressAndPortArePaddedToRegisters() throws Exception {
    byte[] key = NfSetElements.ipv4AndPortKey(ip("198.18.0.7"), 40001);
    assertThat(key).containsExactly(198, 18, 0, 7, 0x9c, 0x41, 0, 0);
    assertThat(NfSetElements.ipv4Value(ip("198.18.1.2"))).containsExactly(198, 18, 1, 2);
    assertThatThrownBy(() -> NfSetElements.ipv4AndPortKey(ip("198.18.0.7"), 65536))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void addsAndDeletesMapAndSetElements() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            elements.apply(
                "netdev",
                TABLE,
                List.of(
                    owner("198.18.0.7", 40001, "198.18.1.2"),
                    owner("198.18.0.8", 443, "198.18.1.3"),
                    new Add("frozen", key("198.18.0.7", 40001))));
            assertThat(list(nft, "map", "owner"))
                .contains("198.18.0.7 . 40001")
                .contains(": 198.18.1.2")
                .contains("198.18.0.8 . 443")
                .contains(": 198.18.1.3");
            assertThat(list(nft, "set", "frozen")).contains("198.18.0.7 . 40001");

            // Replacing a mapping is a delete and an add in one batch.
            elements.apply(
                "netdev",
                TABLE,
                List.of(
                    new Delete("owner", key("198.18.0.7", 40001)),
                    owner("198.18.0.7", 40001, "198.18.1.9"),
                    new Delete("frozen", key("198.18.0.7", 40001))));
            String owner = list(nft, "map", "owner");
            assertThat(owner).contains(": 198.18.1.9").doesNotContain("198.18.1.2");
            assertThat(list(nft, "set", "frozen")).doesNotContain("198.18.0.7");

            elements.apply("netdev", TABLE, List.of(new Delete("owner", key("198.18.0.8", 443))));
            assertThat(list(nft, "map", "owner")).doesNotContain("198.18.0.8");
            elements.apply("netdev", TABLE, List.of()); // nothing to do, nothing sent
          }
        });
  }

  @Test
  void aBatchWithOneFailingChangeChangesNothing() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            List<Change> batch =
                List.of(
                    owner("198.18.0.7", 40001, "198.18.1.2"),
                    new Add("frozen", key("198.18.0.7", 40001)),
                    new Delete("owner", key("198.18.0.99", 1234)));
            assertThatThrownBy(() -> elements.apply("netdev", TABLE, batch))
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> {
                      assertThat(e.errno()).isEqualTo(Errno.ENOENT);
                      assertThat(e.call())
                          .isEqualTo(
                              "delete element netdev " + TABLE + " owner { 0xc612006304d20000 }");
                    });
            assertThat(list(nft, "map", "owner")).doesNotContain("198.18.0.7");
            assertThat(list(nft, "set", "frozen")).doesNotContain("198.18.0.7");
            // The socket stays usable after a failed batch.
            elements.apply("netdev", TABLE, List.of(owner("198.18.0.7", 40001, "198.18.1.2")));
            assertThat(list(nft, "map", "owner")).contains("198.18.0.7 . 40001");
          }
        });
  }

  @Test
  void deletingAMissingElementSaysNoSuchFile() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open()) {
            assertThatThrownBy(
                    () ->
                        elements.apply(
                            "netdev",
                            TABLE,
                            List.of(
                                new Delete("frozen", key("198.18.0.7", 1)),
                                new Delete("frozen", key("198.18.0.7", 2)))))
                .isInstanceOf(LinuxException.class)
                .hasMessage(
                    "delete element netdev "
                        + TABLE
                        + " frozen { 0xc612000700010000 }"
                        + " (and 1 more of 2 changes) failed: No such file or directory (errno 2)");
          }
        });
  }

  @Test
  void addingAKeyThatMapsElsewhereIsAClash() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            elements.apply("netdev", TABLE, List.of(owner("198.18.0.7", 40001, "198.18.1.2")));
            // The same element again is fine (nft add semantics) ...
            elements.apply("netdev", TABLE, List.of(owner("198.18.0.7", 40001, "198.18.1.2")));
            // ... other data for the same key is not.
            assertThatThrownBy(
                    () ->
                        elements.apply(
                            "netdev", TABLE, List.of(owner("198.18.0.7", 40001, "198.18.1.3"))))
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> assertThat(e.errno()).isIn(Errno.EEXIST, Errno.EBUSY));
            assertThat(list(nft, "map", "owner"))
                .contains(": 198.18.1.2")
                .doesNotContain("198.18.1.3");
          }
        });
  }

  @Test
  void missingTableOrSetIsNoSuchFileAndBadFamilyIsRefused() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open()) {
            List<Change> one = List.of(new Add("frozen", key("198.18.0.7", 1)));
            assertThatThrownBy(() -> elements.apply("netdev", "bt_door_none", one))
                .isInstanceOfSatisfying(
                    LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
            assertThatThrownBy(() -> elements.apply("ip", TABLE, one))
                .isInstanceOfSatisfying(
                    LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
            assertThatThrownBy(
                    () ->
                        elements.apply(
                            "netdev", TABLE, List.of(new Add("nope", key("198.18.0.7", 1)))))
                .isInstanceOfSatisfying(
                    LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
            assertThatThrownBy(() -> elements.apply("netdve", TABLE, one))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("netdve");
          }
        });
  }

  @Test
  void timeoutsComeFromTheElementOrTheSet() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            elements.apply(
                "netdev",
                TABLE,
                List.of(
                    new Add(
                        "owner",
                        key("198.18.0.7", 1),
                        NfSetElements.ipv4Value(ip("198.18.1.2")),
                        Duration.ofSeconds(7)),
                    owner("198.18.0.7", 2, "198.18.1.2"),
                    new Add("frozen", key("198.18.0.7", 3), null, Duration.ofMillis(1500))));
            String owner = list(nft, "map", "owner");
            assertThat(owner).containsPattern("198\\.18\\.0\\.7 \\. 1 timeout 7s expires [0-9]");
            // The set's default (60s) is not printed per element, but it does expire.
            assertThat(owner).containsPattern("198\\.18\\.0\\.7 \\. 2 expires [0-9]");
            assertThat(list(nft, "set", "frozen")).contains("198.18.0.7 . 3 timeout 1s500ms");
            // The kernel removes the short-lived element by itself.
            long deadlineNs = System.nanoTime() + 10_000_000_000L;
            while (list(nft, "set", "frozen").contains("198.18.0.7 . 3")
                && System.nanoTime() < deadlineNs) {
              Thread.sleep(100);
            }
            assertThat(list(nft, "set", "frozen")).doesNotContain("198.18.0.7 . 3");
          }
        });
  }

  @Test
  void aLargeBatchIsAnsweredInFull() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            List<Change> adds = new ArrayList<>();
            for (int port = 1; port <= 5000; port++)
              adds.add(owner("198.18.0.7", port, "198.18.1.2"));
            elements.apply("netdev", TABLE, adds);
            assertThat(countElements(list(nft, "map", "owner"))).isEqualTo(5000);
            // All of them fail when deleted twice: 5000 errors are read back without loss.
            List<Change> deletes = new ArrayList<>();
            for (int port = 1; port <= 5000; port++)
              deletes.add(new Delete("owner", key("198.18.0.7", port)));
            elements.apply("netdev", TABLE, deletes);
            assertThatThrownBy(() -> elements.apply("netdev", TABLE, deletes))
                .isInstanceOf(LinuxException.class)
                .hasMessageContaining("(and 4999 more of 5000 changes)");
            assertThat(list(nft, "map", "owner")).doesNotContain("198.18.0.7");
          }
        });
  }

  @Test
  void aSocketIsConfinedToItsThread() throws Exception {
    NfSetElements elements = ns.call(NfSetElements::open);
    try {
      assertThatThrownBy(() -> elements.apply("netdev", TABLE, List.of()))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("belongs to thread netns-" + ns.name());
    } finally {
      ns.run(elements::close);
    }
    ns.run(
        () -> {
          elements.close(); // twice is fine
          assertThatThrownBy(() -> elements.apply("netdev", TABLE, List.of()))
              .isInstanceOf(IllegalStateException.class)
              .hasMessage("netlink set element socket is closed");
        });
  }

  @Test
  void fourTupleKeysPadEachFieldToARegister() throws Exception {
    byte[] key = flowKey("198.18.0.7", 40001, "198.18.0.100", 443);
    assertThat(key)
        .containsExactly(198, 18, 0, 7, 0x9c, 0x41, 0, 0, 198, 18, 0, 100, 0x01, 0xbb, 0, 0);
    assertThatThrownBy(() -> flowKey("198.18.0.7", 1, "198.18.0.100", 65536))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ipv6FourTupleKeysAreFortyBytesWithEachPortInItsOwnRegister() throws Exception {
    byte[] key = NfSetElements.fourTupleKey6(ip6("2001:2::7"), 40001, ip6("2001:2::100"), 443);
    assertThat(java.util.HexFormat.of().formatHex(key))
        .isEqualTo(
            "20010002000000000000000000000007"
                + "9c410000"
                + "20010002000000000000000000000100"
                + "01bb0000");
    assertThat(NfSetElements.ipv6AndPortKey(ip6("2001:2::7"), 80)).hasSize(20);
    assertThatThrownBy(
            () -> NfSetElements.fourTupleKey6(ip6("2001:2::7"), 1, ip6("2001:2::100"), 65536))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ipv6FourTupleElementsReadBackAsNftListsThemAndByDump() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            elements.apply(
                "netdev",
                TABLE,
                List.of(
                    new Add(
                        "flows6",
                        NfSetElements.fourTupleKey6(
                            ip6("2001:2::7"), 40001, ip6("2001:2::100"), 80),
                        NfSetElements.ipv6Value(ip6("2001:2:0:1::2")),
                        null)));
            // nft decodes the 40 bytes as the four fields: the padding is where the kernel wants
            // it.
            assertThat(list(nft, "map", "flows6"))
                .contains("2001:2::7 . 40001 . 2001:2::100 . 80 : 2001:2:0:1::2");
            java.util.Map<String, String> dumped = new java.util.TreeMap<>();
            int n =
                elements.dump(
                    "netdev",
                    TABLE,
                    "flows6",
                    (key, data) ->
                        dumped.put(
                            java.util.HexFormat.of().formatHex(key),
                            java.util.HexFormat.of().formatHex(data)));
            assertThat(n).isEqualTo(1);
            assertThat(dumped)
                .containsExactly(
                    java.util.Map.entry(
                        "200100020000000000000000000000079c410000"
                            + "2001000200000000000000000000010000500000",
                        "20010002000000010000000000000002"));
          }
        });
  }

  @Test
  void fourTupleElementsReadBackAsNftListsThemAndByDump() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            elements.apply(
                "netdev",
                TABLE,
                List.of(
                    new Add(
                        "flows",
                        flowKey("198.18.0.7", 40001, "198.18.0.100", 80),
                        NfSetElements.ipv4Value(ip("198.18.1.2")),
                        null),
                    new Add(
                        "flows",
                        flowKey("198.18.0.7", 40001, "198.18.0.100", 443),
                        NfSetElements.ipv4Value(ip("198.18.1.3")),
                        null)));
            // nft decodes the bytes as the same fields: the padding is where the kernel wants it.
            assertThat(list(nft, "map", "flows"))
                .contains("198.18.0.7 . 40001 . 198.18.0.100 . 80 : 198.18.1.2")
                .contains("198.18.0.7 . 40001 . 198.18.0.100 . 443 : 198.18.1.3");
            java.util.Map<String, String> dumped = new java.util.TreeMap<>();
            int n =
                elements.dump(
                    "netdev",
                    TABLE,
                    "flows",
                    (key, data) ->
                        dumped.put(
                            java.util.HexFormat.of().formatHex(key),
                            java.util.HexFormat.of().formatHex(data)));
            assertThat(n).isEqualTo(2);
            assertThat(dumped)
                .containsExactly(
                    java.util.Map.entry("c61200079c410000c612006400500000", "c6120102"),
                    java.util.Map.entry("c61200079c410000c612006401bb0000", "c6120103"));
            // The reader form hands over the same bytes in buffers it reuses.
            java.util.Map<String, String> read = new java.util.TreeMap<>();
            java.util.Set<byte[]> buffers =
                java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            int m =
                elements.dump(
                    "netdev",
                    TABLE,
                    "flows",
                    (key, keyLength, data, dataLength) -> {
                      buffers.add(key);
                      read.put(
                          java.util.HexFormat.of().formatHex(key, 0, keyLength),
                          java.util.HexFormat.of().formatHex(data, 0, dataLength));
                    });
            assertThat(m).isEqualTo(2);
            assertThat(read).isEqualTo(dumped);
            assertThat(buffers).hasSize(1);
          }
        });
  }

  @Test
  void aDumpOfManyElementsSpansManyDatagramsAndAMissingSetIsNoSuchFile() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open()) {
            List<Change> adds = new ArrayList<>();
            for (int port = 1; port <= 20_000; port++) {
              adds.add(
                  new Add(
                      "flows",
                      flowKey("198.18.0.7", port, "198.18.0.100", 80),
                      NfSetElements.ipv4Value(ip("198.18.1.2")),
                      null));
            }
            elements.apply("netdev", TABLE, adds);
            // The kernel grows the set's hash table in a worker after the inserts, and a dump that
            // runs meanwhile can miss elements (seen here: 19,233 of 20,000, once the apply
            // returned
            // on a single acknowledgement). Once the table is quiet a dump reads every element;
            // the test waits for that, with a deadline, and counts how often it had to read again.
            java.util.BitSet ports = new java.util.BitSet();
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            int n;
            int dumps = 0;
            do {
              ports.clear();
              n =
                  elements.dump(
                      "netdev",
                      TABLE,
                      "flows",
                      (key, data) -> ports.set((key[4] & 0xFF) << 8 | (key[5] & 0xFF)));
              dumps++;
              // A dump that overlaps the resize can also read an element twice (seen: 20,000
              // elements read, 18,519 of them distinct): the count alone does not say it was whole.
            } while ((n != 20_000 || ports.cardinality() != 20_000)
                && System.nanoTime() < deadline);
            if (dumps > 1)
              System.out.println("dumped " + dumps + " times before the set was quiet");
            assertThat(n).isEqualTo(20_000);
            assertThat(ports.cardinality()).isEqualTo(20_000);
            assertThat(ports.nextSetBit(0)).isEqualTo(1);
            assertThat(ports.length()).isEqualTo(20_001);
            // The frozen set is empty: a dump of nothing.
            assertThat(elements.dump("netdev", TABLE, "frozen", (key, data) -> {})).isZero();
            assertThatThrownBy(() -> elements.dump("netdev", TABLE, "nope", (key, data) -> {}))
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> {
                      assertThat(e.errno()).isEqualTo(Errno.ENOENT);
                      assertThat(e.call()).isEqualTo("dump set netdev " + TABLE + " nope");
                    });
            // The socket still works for changes afterwards.
            elements.apply("netdev", TABLE, List.of(new Add("frozen", key("198.18.0.7", 9))));
            assertThat(elements.dump("netdev", TABLE, "frozen", (key, data) -> {})).isEqualTo(1);
          }
        });
  }

  @Test
  void aFlushEmptiesOneSetInOneTransaction() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            elements.apply(
                "netdev",
                TABLE,
                List.of(
                    new Add("frozen", key("198.18.0.7", 1)),
                    new Add("frozen", key("198.18.0.7", 2)),
                    owner("198.18.0.7", 3, "198.18.1.2")));
            elements.flush("netdev", TABLE, "frozen");
            assertThat(list(nft, "set", "frozen")).doesNotContain("198.18.0.7");
            assertThat(list(nft, "map", "owner")).contains("198.18.0.7 . 3");
            elements.flush("netdev", TABLE, "frozen"); // an empty set flushes fine
            assertThatThrownBy(() -> elements.flush("netdev", TABLE, "nope"))
                .isInstanceOfSatisfying(
                    LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
          }
        });
  }

  @Test
  void aTablesCommentIsReadWithoutItsElements() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            assertThat(elements.tableComment("netdev", TABLE)).contains("");
            assertThat(elements.tableComment("netdev", "bt_door_none")).isEmpty();
            nft.run("table netdev bt_door_commented { comment \"baton-forwarding/2 0123abcd\"; }");
            try {
              assertThat(elements.tableComment("netdev", "bt_door_commented"))
                  .contains("baton-forwarding/2 0123abcd");
            } finally {
              nft.run("delete table netdev bt_door_commented");
            }
          }
        });
  }

  /** Not an assertion: what one element change costs each way, printed to the test output. */
  @Test
  void singleChangesCostMicrosecondsNotHundreds() throws Exception {
    ns.run(
        () -> {
          try (NfSetElements elements = NfSetElements.open();
              Nftables nft = Nftables.open()) {
            int n = 1000;
            // Warm both paths up first, so the JIT has compiled them before the clock runs.
            for (int port = 1; port <= 300; port++) {
              nft.run("add element netdev " + TABLE + " frozen { 198.18.0.6 . " + port + " }");
            }
            for (int port = 1; port <= 5000; port++) {
              elements.apply("netdev", TABLE, List.of(new Add("frozen", key("198.18.0.5", port))));
            }
            long t0 = System.nanoTime();
            for (int port = 1; port <= n; port++) {
              nft.run(
                  "add element netdev "
                      + TABLE
                      + " owner { 198.18.0.7 . "
                      + port
                      + " : 198.18.1.2 }");
            }
            long t1 = System.nanoTime();
            for (int port = 1; port <= n; port++) {
              elements.apply("netdev", TABLE, List.of(owner("198.18.0.8", port, "198.18.1.2")));
            }
            long t2 = System.nanoTime();
            for (int port = 1; port <= n; port++) {
              elements.apply(
                  "netdev", TABLE, List.of(new Delete("owner", key("198.18.0.8", port))));
            }
            long t3 = System.nanoTime();
            List<Change> batch = new ArrayList<>();
            for (int port = 1; port <= 100; port++)
              batch.add(owner("198.18.0.9", port, "198.18.1.2"));
            long t4 = System.nanoTime();
            elements.apply("netdev", TABLE, batch);
            long t5 = System.nanoTime();
            System.out.printf(
                "%d single adds: libnftables %.1f us/op, netlink %.1f us/op; netlink single delete %.1f us/op;"
                    + " netlink batch of 100 adds %.1f us%n",
                n, (t1 - t0) / 1e3 / n, (t2 - t1) / 1e3 / n, (t3 - t2) / 1e3 / n, (t5 - t4) / 1e3);
            assertThat(countElements(list(nft, "map", "owner"))).isEqualTo(n + 100);
          }
        });
  }

  private static Add owner(String client, int port, String server) throws Exception {
    return new Add("owner", key(client, port), NfSetElements.ipv4Value(ip(server)), null);
  }

  private static byte[] key(String client, int port) throws Exception {
    return NfSetElements.ipv4AndPortKey(ip(client), port);
  }

  private static Inet4Address ip(String text) throws Exception {
    return (Inet4Address) InetAddress.getByName(text);
  }

  private static java.net.Inet6Address ip6(String text) {
    return (java.net.Inet6Address) InetAddress.ofLiteral(text);
  }

  private static String list(Nftables nft, String kind, String name) throws LinuxException {
    return nft.run("list " + kind + " netdev " + TABLE + " " + name);
  }

  private static byte[] flowKey(String client, int port, String vip, int vipPort) throws Exception {
    return NfSetElements.fourTupleKey(ip(client), port, ip(vip), vipPort);
  }

  private static int countElements(String listing) {
    int start = listing.indexOf("elements = {");
    if (start < 0) return 0;
    String body = listing.substring(start + "elements = {".length(), listing.indexOf('}', start));
    return (int) java.util.Arrays.stream(body.split(",")).filter(s -> !s.isBlank()).count();
  }
}
