package io.baton.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Routing tables for {@link Router}: order, wildcards, paths, headers, methods, SNI, defaults. */
class RouterTest {
  private static final List<Rule> RULES =
      List.of(
          Rule.named("admin").host("admin.example.com").toPool("admin"),
          Rule.named("purge").method("PURGE").toPool("purge"),
          Rule.named("uploads").method("POST").pathPrefix("/upload").toPool("uploads"),
          Rule.named("api-v2").host("*.example.com").pathPrefix("/api/v2").toPool("api-v2"),
          Rule.named("canary").header("X-Canary", "yes").toPool("canary"),
          Rule.named("debug").header("X-Debug").toPool("debug"),
          Rule.named("api").pathPrefix("/api").toPool("api"),
          Rule.named("static").pathPrefix("/static/").toPool("static"),
          Rule.named("shop-tls").sni("shop.example.com").toPool("shop"),
          Rule.named("org-tls").sni("*.example.org").toPool("org"));

  private static final Router ROUTER = new Router(RULES, Optional.of("web"));

  @ParameterizedTest(name = "{0} {1} [{2}] -> {3}")
  @CsvSource(
      delimiter = '|',
      nullValues = "none",
      value = {
        // host               | path              | extra header      | pool
        "admin.example.com    | /api/v2/users     | none              | admin",
        "ADMIN.Example.com:81 | /                 | none              | admin",
        "a.example.com        | /api/v2/users     | none              | api-v2",
        "a.b.example.com      | /api/v2           | none              | api-v2",
        "a.example.com        | /api/v2?x=1       | none              | api-v2",
        "example.com          | /api/v2           | none              | api",
        "a.example.com        | /api/v20          | none              | api",
        "other.com            | /api              | none              | api",
        "other.com            | /api/             | none              | api",
        "other.com            | /apis             | none              | web",
        "other.com            | /API              | none              | web",
        "other.com            | /static/app.js    | none              | static",
        "other.com            | /static           | none              | web",
        "other.com            | /                 | X-Canary: yes     | canary",
        "other.com            | /api              | x-canary: yes     | canary",
        "other.com            | /api              | X-Canary: YES     | api",
        "other.com            | /                 | X-Canary: yes, no | web",
        "other.com            | /                 | X-Debug: 1        | debug",
        "other.com            | /                 | X-Debug:          | debug",
        "shop.example.com     | /                 | none              | web",
        "a.example.org        | /                 | none              | web"
      })
  void routesHttpByFirstMatchingRule(String host, String path, String header, String pool) {
    RequestHead head = head("HTTP/1.1", host, path, header);

    assertThat(ROUTER.route(head)).contains(pool);
  }

  @ParameterizedTest(name = "{0} {1}{2} -> {3}")
  @CsvSource(
      delimiter = '|',
      value = {
        // method | host              | path          | pool
        "PURGE    | other.com         | /static/a.js  | purge",
        "PURGE    | admin.example.com | /             | admin",
        "purge    | other.com         | /             | web",
        "PURGEX   | other.com         | /             | web",
        "POST     | other.com         | /upload       | uploads",
        "POST     | other.com         | /upload/a.png | uploads",
        "POST     | other.com         | /uploads      | web",
        "POST     | other.com         | /api          | api",
        "PUT      | other.com         | /upload       | web",
        "GET      | other.com         | /upload       | web",
        "HEAD     | other.com         | /static/a.js  | static"
      })
  void methodRulesMatchTheExactMethod(String method, String host, String path, String pool) {
    RequestHead head = head(method, "HTTP/1.1", host, path, null);

    assertThat(ROUTER.route(head)).contains(pool);
  }

  @Test
  void methodRulesNeverMatchTlsOrLayerFour() {
    Router router =
        new Router(
            List.of(
                Rule.named("get").method("GET").toPool("get"),
                Rule.named("all").toPool("everything")),
            Optional.of("web"));

    assertThat(router.routeTls(Optional.of("x.example"))).contains("everything");
    assertThat(router.routeTls(Optional.empty())).contains("everything");
    assertThat(router.routeL4()).contains("everything");
    assertThat(router.route(head("HTTP/1.1", "h", "/", null))).contains("get");
  }

  @ParameterizedTest(name = "HTTP/1.0 {0} -> {1}")
  @CsvSource({"/, web", "/api/x, api", "/api/v2, api"})
  void hostRulesNeverMatchWithoutHost(String path, String pool) {
    assertThat(ROUTER.route(head("HTTP/1.0", null, path, null))).contains(pool);
  }

  @ParameterizedTest(name = "sni {0} -> {1}")
  @CsvSource(
      nullValues = "none",
      value = {
        "shop.example.com, shop",
        "SHOP.Example.com, shop",
        "a.example.org, org",
        "a.b.example.org, org",
        "example.org, web",
        "admin.example.com, web",
        "none, web"
      })
  void routesTlsBySniOnly(String sni, String pool) {
    assertThat(ROUTER.routeTls(Optional.ofNullable(sni))).contains(pool);
  }

  @Test
  void layerFourTakesTheFirstRuleWithoutConditions() {
    Router router =
        new Router(
            List.of(
                Rule.named("api").pathPrefix("/api").toPool("api"),
                Rule.named("all").toPool("everything"),
                Rule.named("later").toPool("never")),
            Optional.of("web"));

    assertThat(router.routeL4()).contains("everything");
    assertThat(router.routeTls(Optional.of("x.example"))).contains("everything");
    assertThat(router.route(head("HTTP/1.1", "h", "/x", null))).contains("everything");
    assertThat(ROUTER.routeL4()).contains("web");
  }

  @Test
  void withoutDefaultPoolUnmatchedConnectionsHaveNoRoute() {
    Router router = new Router(RULES, Optional.empty());

    assertThat(router.route(head("HTTP/1.1", "other.com", "/", null))).isEmpty();
    assertThat(router.routeTls(Optional.empty())).isEmpty();
    assertThat(router.routeL4()).isEmpty();
    assertThat(router.route(head("HTTP/1.1", "other.com", "/api", null))).contains("api");
  }

  @Test
  void emptyRouterUsesTheDefault() {
    assertThat(new Router(List.of(), Optional.of("web")).route(head("HTTP/1.1", "h", "/", null)))
        .contains("web");
  }

  @Test
  void ruleNamesMustBeUnique() {
    assertThatThrownBy(
            () ->
                new Router(
                    List.of(Rule.named("a").toPool("p"), Rule.named("a").toPool("q")),
                    Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("two rules named 'a'");
  }

  @Test
  void rulesCanBeBuiltFromPlainStrings() {
    Rule rule =
        new Rule(
            "r",
            Optional.of("API.Example.com"),
            Optional.of("/v1"),
            Optional.of("X-Env"),
            Optional.of("blue"),
            Optional.empty(),
            Optional.of("PUT"),
            "pool");

    assertThat(rule)
        .isEqualTo(
            Rule.named("r")
                .host("api.example.com")
                .pathPrefix("/v1")
                .header("X-Env", "blue")
                .method("PUT")
                .toPool("pool"));
    assertThat(rule.isUnconditional()).isFalse();
    assertThat(Rule.named("m").method("GET").toPool("p").isUnconditional()).isFalse();
    assertThat(Rule.named("any").toPool("p").isUnconditional()).isTrue();
    assertThat(rule.toString())
        .isEqualTo(
            "rule 'r' [method=PUT, host=api.example.com, path=/v1*,"
                + " header X-Env=blue] -> pool");
  }

  @Test
  void refusesRuleThatCouldNeverMatch() {
    assertThatThrownBy(() -> Rule.named("mixed").host("a.example").sni("a.example").toPool("p"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("rule 'mixed' could never match");
    assertThatThrownBy(() -> Rule.named("mixed").method("GET").sni("a.example").toPool("p"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("rule 'mixed' could never match");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "bare wildcard      | host | *              | invalid host pattern",
        "inner wildcard     | host | a.*.com        | invalid host pattern",
        "glued wildcard     | host | *example.com   | invalid host pattern",
        "space              | host | exa mple.com   | invalid host pattern",
        "sni ipv6           | sni  | [::1]          | must be a DNS name",
        "relative path      | path | api            | must start with /",
        "bad header name    | name | X Env          | invalid header name",
        "value without name | value| blue           | header value without header name",
        "space in method    | method| GE T          | invalid method 'GE T'",
        "empty method       | method| ''            | invalid method ''",
        "blank pool         | pool | ' '            | must not be blank"
      })
  void refusesInvalidRules(String name, String field, String value, String message) {
    Optional<String> v = Optional.of(value);
    Optional<String> none = Optional.empty();
    assertThatThrownBy(
            () ->
                new Rule(
                    "r",
                    field.equals("host") ? v : none,
                    field.equals("path") ? v : none,
                    field.equals("name") ? v : none,
                    field.equals("value") ? v : none,
                    field.equals("sni") ? v : none,
                    field.equals("method") ? v : none,
                    field.equals("pool") ? value : "p"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  /** A parsed head, so rules see exactly what the dispatcher will give them. */
  static RequestHead head(String version, String host, String path, String header) {
    return head("GET", version, host, path, header);
  }

  /** As {@link #head(String, String, String, String)}, with another method. */
  static RequestHead head(String method, String version, String host, String path, String header) {
    String raw =
        method
            + " "
            + path
            + " "
            + version
            + "\r\n"
            + (host == null ? "" : "Host: " + host + "\r\n")
            + (header == null ? "" : header + "\r\n")
            + "\r\n";
    HttpHeadParser.Result result =
        new HttpHeadParser().offer(raw.getBytes(StandardCharsets.ISO_8859_1));
    assertThat(result).isInstanceOf(HttpHeadParser.Complete.class);
    return ((HttpHeadParser.Complete) result).head();
  }
}
