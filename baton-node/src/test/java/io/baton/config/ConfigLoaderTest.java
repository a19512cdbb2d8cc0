package io.baton.config;

import static io.baton.config.Configs.DISPATCHER;
import static io.baton.config.Configs.KEY_HEX;
import static io.baton.config.Configs.SERVER;
import static io.baton.config.Configs.edit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.baton.config.RuleConfig.Header;
import io.baton.config.RuleConfig.Host;
import io.baton.config.RuleConfig.Method;
import io.baton.config.RuleConfig.PathPrefix;
import io.baton.config.RuleConfig.Sni;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigLoaderTest {
  /** The shipped examples, relative to the module directory surefire runs in. */
  private static final Path EXAMPLES = Path.of("..", "config", "examples");

  @ParameterizedTest
  @ValueSource(strings = {"dispatcher.yaml", "server-relay.yaml", "server-embedded.yaml"})
  void shippedExamplesLoad(String name) throws ConfigException {
    BatonConfig config = ConfigLoader.load(EXAMPLES.resolve(name));

    assertThat(config.node().name()).isNotBlank();
  }

  @Test
  void dispatcherExampleReadsAsDocumented() throws ConfigException {
    BatonConfig config = ConfigLoader.load(EXAMPLES.resolve("dispatcher.yaml"));

    assertThat(config.summary()).isEqualTo("node d1: dispatcher; 2 VIPs, 4 pools, 6 members");
    VipConfig http = config.vips().getFirst();
    assertThat(http.toString()).isEqualTo("198.18.0.100:80 (http)");
    assertThat(http.rules())
        .extracting(RuleConfig::name, RuleConfig::conditions, RuleConfig::pool)
        .containsExactly(
            tuple("images", List.of(new PathPrefix("/img/")), "static"),
            tuple("api", List.of(new Host("api.example.com")), "api"),
            tuple("beta", List.of(new Header("X-Beta", "1")), "web"),
            tuple("uploads", List.of(new Method("POST"), new PathPrefix("/upload")), "static"));
    VipConfig tls = config.vips().get(1);
    assertThat(tls.mode()).isEqualTo(VipMode.TLS);
    assertThat(tls.rules().getFirst().conditions()).containsExactly(new Sni("*.example.com"));
    PoolConfig api = config.pool("api");
    assertThat(api.balance()).isEqualTo(Balance.HASH);
    assertThat(api.hashKey()).contains(HashKey.HOST);
    assertThat(config.pool("web").members())
        .extracting(MemberConfig::node, MemberConfig::weight)
        .containsExactly(tuple("s2", 1), tuple("s3", 2));
    assertThat(config.metrics().map(MetricsConfig::listen))
        .contains(new InetSocketAddress("127.0.0.1", 9400));
    assertThat(config.node().sync()).isPresent();
    assertThat(config.server()).isEmpty();
    assertThat(config.timeouts())
        .as("the example spells out the defaults")
        .isEqualTo(Timeouts.DEFAULTS);
    assertThat(config.limits())
        .as("the example spells out the defaults")
        .isEqualTo(Limits.DEFAULTS);
  }

  @Test
  void serverExamplesDescribeTheirDeliveries() throws ConfigException {
    BatonConfig relay = ConfigLoader.load(EXAMPLES.resolve("server-relay.yaml"));
    BatonConfig embedded = ConfigLoader.load(EXAMPLES.resolve("server-embedded.yaml"));

    assertThat(relay.summary()).isEqualTo("node s1: server; 2 deliveries");
    assertThat(relay.server().orElseThrow().deliveries().getFirst())
        .isInstanceOf(Delivery.Relay.class)
        .extracting(d -> ((Delivery.Relay) d).upstream())
        .isEqualTo(new InetSocketAddress("127.0.0.1", 8080));
    ServerConfig server = embedded.server().orElseThrow();
    assertThat(server.applyHostPreparation()).isTrue();
    assertThat(server.deliveries().getFirst())
        .isEqualTo(
            new Delivery.Embedded(
                relay.server().orElseThrow().deliveries().getFirst().vip(),
                80,
                "sample",
                Path.of("/srv/www")));
  }

  @Test
  void omittedSectionsGetTheirDefaults() throws ConfigException {
    BatonConfig config = ConfigLoader.parse(DISPATCHER, "t.yaml");

    assertThat(config.timeouts()).isEqualTo(Timeouts.DEFAULTS);
    assertThat(config.timeouts().firstByte()).isEqualTo(Duration.ofSeconds(5));
    assertThat(config.timeouts().head()).isEqualTo(Duration.ofSeconds(10));
    assertThat(config.timeouts().handoff()).isEqualTo(Duration.ofSeconds(2));
    assertThat(config.timeouts().closeGrace()).isEqualTo(Duration.ofSeconds(2));
    assertThat(config.timeouts().idle()).isEqualTo(Duration.ofSeconds(60));
    assertThat(config.timeouts().fabricDeadAfter()).isEqualTo(Duration.ofSeconds(1));
    assertThat(config.timeouts().fabricHeartbeat()).isEqualTo(Duration.ofMillis(200));
    assertThat(config.limits()).isEqualTo(new Limits(16_384, 10_000, 10_000, 64, 100));
    assertThat(config.limits().maxPendingConnections()).isEqualTo(10_000);
    assertThat(config.limits().maxPendingPerClient()).isEqualTo(64);
    assertThat(config.limits().maxHeaderCount()).isEqualTo(100);
    assertThat(config.cluster().handoffPort()).isEqualTo(7400);
    assertThat(config.metrics()).isEmpty();
    assertThat(config.server()).isEmpty();
    assertThat(config.node().sync()).isEmpty();
    VipConfig vip = config.vips().getFirst();
    assertThat(vip.mode()).isEqualTo(VipMode.HTTP);
    PoolConfig web = config.pool("web");
    assertThat(web.balance()).isEqualTo(Balance.LEAST_CONNECTIONS);
    assertThat(web.hashKey()).isEmpty();
    assertThat(web.members().getFirst().weight()).isEqualTo(MemberConfig.DEFAULT_WEIGHT);
  }

  @Test
  void hashPoolsHashOnTheClientAddressUnlessTold() throws ConfigException {
    String yaml = edit(DISPATCHER, "    members:\n", "    balance: hash\n    members:\n");

    assertThat(ConfigLoader.parse(yaml, "t.yaml").pool("web").hashKey())
        .contains(HashKey.CLIENT_IP);
  }

  @Test
  void partialSectionsKeepTheOtherDefaults() throws ConfigException {
    String yaml = DISPATCHER + "timeouts:\n  handoff: 750ms\nlimits:\n  max-connections: 500\n";

    BatonConfig config = ConfigLoader.parse(yaml, "t.yaml");

    assertThat(config.timeouts().handoff()).isEqualTo(Duration.ofMillis(750));
    assertThat(config.timeouts().head()).isEqualTo(Timeouts.DEFAULTS.head());
    assertThat(config.limits()).isEqualTo(new Limits(16_384, 500, 10_000, 64, 100));
  }

  @Test
  void capsAndTimeoutsOfTheHandoffPathAreRead() throws ConfigException {
    String yaml =
        DISPATCHER
            + "timeouts:\n  idle: 90s\n  fabric-dead-after: 800ms\n  fabric-heartbeat: 100ms\n"
            + "limits:\n  max-pending-connections: 1500\n  max-pending-per-client: 100\n"
            + "  max-header-count: 50\n";

    BatonConfig config = ConfigLoader.parse(yaml, "t.yaml");

    assertThat(config.timeouts().idle()).isEqualTo(Duration.ofSeconds(90));
    assertThat(config.timeouts().fabricDeadAfter()).isEqualTo(Duration.ofMillis(800));
    assertThat(config.timeouts().fabricHeartbeat()).isEqualTo(Duration.ofMillis(100));
    assertThat(config.timeouts().head()).isEqualTo(Timeouts.DEFAULTS.head());
    assertThat(config.limits().maxPendingConnections()).isEqualTo(1500);
    assertThat(config.limits().maxPendingPerClient()).isEqualTo(100);
    assertThat(config.limits().maxHeaderCount()).isEqualTo(50);
    assertThat(config.limits().maxHeadBytes()).isEqualTo(Limits.DEFAULTS.maxHeadBytes());
  }

  @Test
  void aSmallTotalCapAlsoBoundsTheDefaultPerClientCap() throws ConfigException {
    BatonConfig config =
        ConfigLoader.parse(DISPATCHER + "limits:\n  max-pending-connections: 10\n", "t.yaml");

    assertThat(config.limits().maxPendingConnections()).isEqualTo(10);
    assertThat(config.limits().maxPendingPerClient()).isEqualTo(10);
  }

  @Test
  void theRecordsRefuseWhatTheBinderRefuses() {
    assertThatThrownBy(() -> new Limits(16_384, 10, 10, 11, 100))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Limits(16_384, 10, 10, 10, 0))
        .isInstanceOf(IllegalArgumentException.class);
    Duration s = Duration.ofSeconds(1);
    assertThatThrownBy(() -> new Timeouts(s, s, s, s, s, s, Duration.ofMillis(500)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ruleConditionsCombine() throws ConfigException {
    String yaml =
        edit(
            DISPATCHER,
            "name: images, path-prefix: /img/,",
            "name: v2, host: api.example.com, path-prefix: /v2/, header: 'X-Beta:  on ',"
                + " method: PUT,");

    RuleConfig rule = ConfigLoader.parse(yaml, "t.yaml").vips().getFirst().rules().getFirst();

    assertThat(rule.conditions())
        .containsExactly(
            new Method("PUT"),
            new Host("api.example.com"),
            new PathPrefix("/v2/"),
            new Header("X-Beta", "on"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"GET", "POST", "PURGE", "VERSION-CONTROL"})
  void methodRulesTakeOneMethodAsWritten(String method) throws ConfigException {
    String yaml = edit(DISPATCHER, "path-prefix: /img/", "method: " + method);

    RuleConfig rule = ConfigLoader.parse(yaml, "t.yaml").vips().getFirst().rules().getFirst();

    assertThat(rule.conditions()).containsExactly(new Method(method));
  }

  @Test
  void aServerMayNameTheDispatchersAllowedOnTheFabric() throws Exception {
    BatonConfig config =
        ConfigLoader.parse(
            edit(SERVER, "server:\n", "server:\n  dispatchers: [198.18.1.1, 198.18.1.2]\n"),
            "s.yaml");
    assertThat(config.server().orElseThrow().dispatchers())
        .extracting(a -> a.getHostAddress())
        .containsExactly("198.18.1.1", "198.18.1.2");
    assertThat(ConfigLoader.parse(SERVER, "s.yaml").server().orElseThrow().dispatchers()).isEmpty();
  }

  @Test
  void aRelayOpensOneUpstreamConnectionAheadUnlessTold() throws ConfigException {
    Delivery.Relay byDefault =
        (Delivery.Relay)
            ConfigLoader.parse(SERVER, "s.yaml").server().orElseThrow().deliveries().get(0);
    assertThat(byDefault.preconnect()).isEqualTo(1);
    Delivery.Relay none =
        (Delivery.Relay)
            ConfigLoader.parse(
                    edit(
                        SERVER,
                        "relay: 127.0.0.1:8080 }",
                        "relay: 127.0.0.1:8080, preconnect: 0 }"),
                    "s.yaml")
                .server()
                .orElseThrow()
                .deliveries()
                .get(0);
    assertThat(none.preconnect()).isZero();
  }

  @Test
  void theSyncSectionGetsItsDefaultsAndAServerChecksItsRelayTargets() throws ConfigException {
    String withSync =
        edit(
                SERVER,
                "    fabric: { device: fabric, address: 198.18.1.11 }\n",
                "    fabric: { device: fabric, address: 198.18.1.11 }\n    sync: { device: sync, address: 198.18.2.11 }\n")
            + "sync:\n  seeds: [198.18.2.1, 198.18.2.11]\n";
    BatonConfig config = ConfigLoader.parse(withSync, "s.yaml");
    SyncConfig sync = config.sync().orElseThrow();
    assertThat(sync.port()).isEqualTo(7500);
    assertThat(sync.seeds())
        .extracting(a -> a.getHostAddress())
        .containsExactly("198.18.2.1", "198.18.2.11");
    assertThat(sync.reportInterval()).isEqualTo(java.time.Duration.ofMillis(250));
    assertThat(sync.staleAfter()).isEqualTo(java.time.Duration.ofMillis(750));
    assertThat(config.server().orElseThrow().healthChecks())
        .singleElement()
        .satisfies(c -> assertThat(c.describe()).isEqualTo("tcp 127.0.0.1:8080"));
    assertThat(ConfigLoader.parse(SERVER, "s.yaml").sync()).isEmpty();
  }

  @Test
  void aPoolMayDiscoverItsMembersWithTheSyncPlane() throws ConfigException {
    String yaml =
        edit(
                    edit(
                        DISPATCHER,
                        "      - { node: s1, fabric-address: 198.18.1.11 }\n"
                            + "      - { node: s2, fabric-address: 198.18.1.12, weight: 2 }\n",
                        ""),
                    "    members:\n",
                    "    members: discover\n")
                .replace(
                    "    fabric: { device: fabric, address: 198.18.1.1 }\n",
                    "    fabric: { device: fabric, address: 198.18.1.1 }\n    sync: { device: sync, address: 198.18.2.1 }\n")
            + "sync:\n  seeds: [198.18.2.1]\n";
    PoolConfig web = ConfigLoader.parse(yaml, "d.yaml").pool("web");
    assertThat(web.discover()).isTrue();
    assertThat(web.members()).isEmpty();
  }

  @Test
  void announceBgpIsReadWithItsDefaults() throws ConfigException {
    BatonConfig config =
        ConfigLoader.parse(
            DISPATCHER
                + "announce:\n  bgp:\n    as: 4200000000\n    neighbors: [{ address: 198.18.0.254, as: 65000 }]\n",
            "d.yaml");
    BgpConfig bgp = config.announce().orElseThrow();
    assertThat(bgp.localAs()).isEqualTo(4_200_000_000L);
    assertThat(bgp.routerId().getHostAddress()).as("the front address").isEqualTo("198.18.0.1");
    assertThat(bgp.neighbors())
        .singleElement()
        .satisfies(
            n -> {
              assertThat(n.address().getHostAddress()).isEqualTo("198.18.0.254");
              assertThat(n.as()).isEqualTo(65000);
            });
    assertThat(bgp.holdTime()).isEqualTo(java.time.Duration.ofSeconds(3));
    assertThat(ConfigLoader.parse(DISPATCHER, "d.yaml").announce()).isEmpty();
  }

  @Test
  void anHttpHealthCheckIsReadAsWritten() throws ConfigException {
    BatonConfig config =
        ConfigLoader.parse(
            edit(
                SERVER,
                "server:\n",
                "server:\n  health-check: { http: 127.0.0.1:8081, path: /healthz, interval: 1s, timeout: 300ms, fall: 3, rise: 1 }\n"),
            "s.yaml");
    HealthCheckConfig c = config.server().orElseThrow().healthChecks().getFirst();
    assertThat(c.describe()).isEqualTo("http 127.0.0.1:8081/healthz");
    assertThat(c.interval()).isEqualTo(java.time.Duration.ofSeconds(1));
    assertThat(c.timeout()).isEqualTo(java.time.Duration.ofMillis(300));
    assertThat(c.fall()).isEqualTo(3);
    assertThat(c.rise()).isEqualTo(1);
  }

  @Test
  void serverOnlyNodeNeedsNoVipsOrPools() throws ConfigException {
    BatonConfig config = ConfigLoader.parse(SERVER, "s.yaml");

    assertThat(config.node().roles()).containsExactly(Role.SERVER);
    assertThat(config.node().front()).isEmpty();
    assertThat(config.vips()).isEmpty();
    assertThat(config.pools()).isEmpty();
    assertThat(config.server().orElseThrow().applyHostPreparation()).isFalse();
    assertThat(config.summary()).isEqualTo("node s1: server; 1 delivery");
  }

  @Test
  void peerModeNodeDispatchesAndServesItsOwnVips() throws ConfigException {
    String yaml =
        edit(DISPATCHER, "roles: [dispatcher]", "roles: [server, dispatcher]")
            + "server:\n  deliveries:\n    - { vip: 198.18.0.100, port: 80, relay:"
            + " 127.0.0.1:8080 }\n";

    BatonConfig config = ConfigLoader.parse(yaml, "p.yaml");

    assertThat(config.node().roles()).isEqualTo(Set.of(Role.DISPATCHER, Role.SERVER));
    assertThat(config.summary())
        .isEqualTo("node d1: dispatcher+server; 1 VIP, 1 pool, 2 members, 1 delivery");
  }

  @Test
  void rolesMayBeASingleWord() throws ConfigException {
    String yaml = edit(DISPATCHER, "roles: [dispatcher]", "roles: dispatcher");

    assertThat(ConfigLoader.parse(yaml, "t.yaml").node().roles()).containsExactly(Role.DISPATCHER);
  }

  @Test
  void aVipDelaysItsFirstAckUnlessTold() throws ConfigException {
    assertThat(ConfigLoader.parse(DISPATCHER, "t.yaml").vips().getFirst().delayFirstAck())
        .as("the default")
        .isTrue();
    String off = DISPATCHER.replace("    port: 80\n", "    port: 80\n    delay-first-ack: false\n");
    assertThat(off).isNotEqualTo(DISPATCHER);

    assertThat(ConfigLoader.parse(off, "t.yaml").vips().getFirst().delayFirstAck()).isFalse();
  }

  @Test
  void relativePathsResolveAgainstTheConfigFilesDirectory(@TempDir Path dir)
      throws IOException, ConfigException {
    ClusterKeyTest.writeKeyFile(dir.resolve("cluster.key"), KEY_HEX + "\n");
    String yaml =
        edit(SERVER, "  key: " + KEY_HEX, "  key-file: cluster.key")
            .replace("relay: 127.0.0.1:8080 }", "embedded: { app: sample, root: www } }");
    Path file = dir.resolve("s.yaml");
    Files.writeString(file, yaml);

    BatonConfig config = ConfigLoader.load(file);

    assertThat(config.cluster().key()).isEqualTo(HexFormat.of().parseHex(KEY_HEX));
    assertThat(config.cluster().keySource()).isEqualTo("file " + dir.resolve("cluster.key"));
    assertThat(((Delivery.Embedded) config.server().orElseThrow().deliveries().getFirst()).root())
        .isEqualTo(dir.resolve("www"));
  }

  @Test
  void unreadableFilesAreOneLineWithoutPosition(@TempDir Path dir) {
    Path missing = dir.resolve("nope.yaml");

    assertThatThrownBy(() -> ConfigLoader.load(missing))
        .isInstanceOf(ConfigException.class)
        .hasMessage(missing + ": cannot read: no such file");
    assertThatThrownBy(() -> ConfigLoader.load(dir))
        .hasMessage(dir + ": is a directory, not a config file");
  }

  @Test
  void exceptionExposesItsParts() {
    String yaml = edit(DISPATCHER, "weight: 2", "weight: 1001");

    assertThatThrownBy(() -> ConfigLoader.parse(yaml, "t.yaml"))
        .isInstanceOfSatisfying(
            ConfigException.class,
            e -> {
              assertThat(e.source()).isEqualTo("t.yaml");
              assertThat(e.line()).isEqualTo(19);
              assertThat(e.field()).isEqualTo("pools.web.members[1].weight");
              assertThat(e.reason()).isEqualTo("must be 0..1000, got 1001");
            });
  }

  @Test
  void recordsAreImmutable() throws ConfigException {
    BatonConfig config = ConfigLoader.parse(DISPATCHER, "t.yaml");

    assertThatThrownBy(() -> config.vips().clear())
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> config.pools().clear())
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(config.server()).isEqualTo(Optional.empty());
  }
}
