package io.baton.bench;

import io.baton.routing.BalanceKind;
import io.baton.routing.HttpHeadParser;
import io.baton.routing.LoadTable;
import io.baton.routing.Member;
import io.baton.routing.PickContext;
import io.baton.routing.Pool;
import io.baton.routing.RequestHead;
import io.baton.routing.Router;
import io.baton.routing.Rule;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The dispatcher's decision for a parsed HTTP request: {@link Router#route} over a 10-rule table,
 * then {@link Pool#pick} of one of the chosen pool's three members, as {@code FirstRequestHandler}
 * and {@code HandoffCoordinator} do it. The request ({@link HeadParsingBenchmark#BROWSER_GET}, host
 * www.example.com, path /static/...) matches the ninth rule, so the router walks most of the table:
 * the two SNI rules are skipped, six host rules are tried and fail.
 *
 * <p>Each JMH worker thread has its own router and pools (both are thread-safe and shared in the
 * dispatcher; sharing them here would measure contention on the balancers instead).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class RoutingBenchmark {
  /** Balancing of every pool, by its configuration name. */
  @Param({"least-connections", "weighted-round-robin", "consistent-hash"})
  public String balance;

  private Router router;
  private final Map<String, Pool> pools = new HashMap<>();
  private RequestHead head;
  private Inet4Address clientIp;

  @Setup
  public void setUp() {
    router = new Router(tenRules(), Optional.of("www"));
    BalanceKind kind = BalanceKind.fromConfig(balance);
    LoadTable load = new LoadTable();
    for (Rule rule : router.rules()) {
      pools.computeIfAbsent(rule.pool(), name -> newPool(name, pools.size(), kind, load));
    }
    pools.computeIfAbsent("www", name -> newPool(name, pools.size(), kind, load));
    byte[] bytes = HeadParsingBenchmark.BROWSER_GET.getBytes(StandardCharsets.US_ASCII);
    if (!(new HttpHeadParser().offer(bytes) instanceof HttpHeadParser.Complete complete)) {
      throw new IllegalStateException("browser GET head does not parse");
    }
    head = complete.head();
    clientIp = StateCodecBenchmark.ipv4("203.0.113.77");
    if (!router.route(head).equals(Optional.of("static"))) {
      throw new IllegalStateException(
          "the request should reach rule 'static', got " + router.route(head) + " from " + router);
    }
  }

  @Benchmark
  public Optional<String> route() {
    return router.route(head);
  }

  @Benchmark
  public Optional<Member> routeAndPick() {
    String name = router.route(head).orElseThrow();
    return pools.get(name).pick(PickContext.of(clientIp, head), Set.of());
  }

  /** Ten rules of the kinds a site uses: SNI, exact and wildcard hosts, paths, a header. */
  static List<Rule> tenRules() {
    return List.of(
        Rule.named("tls-api").sni("api.example.com").toPool("api"),
        Rule.named("tls-shop").sni("*.shop.example.com").toPool("shop"),
        Rule.named("admin").host("admin.example.com").toPool("admin"),
        Rule.named("api-v2").host("api.example.com").pathPrefix("/v2").toPool("api-v2"),
        Rule.named("api").host("api.example.com").toPool("api"),
        Rule.named("canary").host("www.example.com").header("X-Canary", "1").toPool("canary"),
        Rule.named("shop").host("*.shop.example.com").toPool("shop"),
        Rule.named("images").host("www.example.com").pathPrefix("/images").toPool("static"),
        Rule.named("static").host("www.example.com").pathPrefix("/static").toPool("static"),
        Rule.named("www").host("www.example.com").toPool("www"));
  }

  /** Pool number {@code index} with three members on the fabric, loads 5, 3 and 8. */
  private static Pool newPool(String name, int index, BalanceKind kind, LoadTable load) {
    List<Member> members = new ArrayList<>();
    int[] loads = {5, 3, 8};
    for (int i = 0; i < 3; i++) {
      String node = name + "-" + i;
      Inet4Address fabric = StateCodecBenchmark.ipv4("198.18.1." + (10 + index * 3 + i));
      members.add(new Member(node, new InetSocketAddress(fabric, 7400), fabric, 1 + i, false));
      load.update(node, loads[i]);
    }
    return Pool.create(name, kind, members, load);
  }
}
