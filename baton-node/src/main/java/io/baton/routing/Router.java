package io.baton.routing;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Chooses the pool for a connection to one VIP: its {@link Rule}s in order, first match wins, else
 * the VIP's default pool. An empty answer means no route: the dispatcher answers 503 (HTTP) or
 * closes the connection (TLS, L4).
 *
 * <p>Immutable and thread-safe; shared by all event loops. Replace the router to change rules.
 */
public final class Router {
  private final List<Rule> rules;
  private final Optional<String> defaultPool;
  private final HostPattern[] hosts; // per rule, null when the rule has no host condition
  private final HostPattern[] snis;

  public Router(List<Rule> rules, Optional<String> defaultPool) {
    this.rules = List.copyOf(rules);
    this.defaultPool = Objects.requireNonNull(defaultPool, "defaultPool");
    defaultPool.ifPresent(
        p -> {
          if (p.isBlank()) throw new IllegalArgumentException("default pool must not be blank");
        });
    Set<String> names = new HashSet<>();
    hosts = new HostPattern[this.rules.size()];
    snis = new HostPattern[this.rules.size()];
    for (int i = 0; i < this.rules.size(); i++) {
      Rule rule = this.rules.get(i);
      if (!names.add(rule.name())) {
        throw new IllegalArgumentException("two rules named '" + rule.name() + "'");
      }
      hosts[i] = rule.host().map(HostPattern::new).orElse(null);
      snis[i] = rule.sni().map(HostPattern::new).orElse(null);
    }
  }

  /** The router of a configured VIP: its rules in order, then its default pool. */
  public static Router of(io.baton.config.VipConfig v) {
    List<Rule> rules = new java.util.ArrayList<>();
    for (io.baton.config.RuleConfig r : v.rules()) {
      Rule.Builder b = Rule.named(r.name());
      for (io.baton.config.RuleConfig.Condition c : r.conditions()) {
        switch (c) {
          case io.baton.config.RuleConfig.Method m -> b.method(m.method());
          case io.baton.config.RuleConfig.Host h -> b.host(h.pattern());
          case io.baton.config.RuleConfig.PathPrefix p -> b.pathPrefix(p.prefix());
          case io.baton.config.RuleConfig.Header h -> b.header(h.name(), h.value());
          case io.baton.config.RuleConfig.Sni s -> b.sni(s.pattern());
        }
      }
      rules.add(b.toPool(r.pool()));
    }
    return new Router(rules, Optional.ofNullable(v.defaultPool()));
  }

  public List<Rule> rules() {
    return rules;
  }

  public Optional<String> defaultPool() {
    return defaultPool;
  }

  /** Routes a plain HTTP connection by its first request head. */
  public Optional<String> route(RequestHead head) {
    for (int i = 0; i < rules.size(); i++) {
      Rule rule = rules.get(i);
      if (rule.sni().isPresent()) continue;
      if (rule.method().isPresent() && !rule.method().get().equals(head.method())) continue;
      if (hosts[i] != null && (head.host().isEmpty() || !hosts[i].matches(head.host().get()))) {
        continue;
      }
      Optional<String> prefix = rule.pathPrefix();
      if (prefix.isPresent() && !Rule.pathMatches(prefix.get(), head.path())) continue;
      if (rule.headerName().isPresent() && !headerMatches(rule, head.headers())) continue;
      return Optional.of(rule.pool());
    }
    return defaultPool;
  }

  /** Routes a TLS connection by the server name of its ClientHello. */
  public Optional<String> routeTls(Optional<String> sni) {
    sni = sni.map(s -> s.toLowerCase(Locale.ROOT));
    for (int i = 0; i < rules.size(); i++) {
      Rule rule = rules.get(i);
      if (rule.needsHttp()) continue;
      if (snis[i] != null && (sni.isEmpty() || !snis[i].matches(sni.get()))) continue;
      return Optional.of(rule.pool());
    }
    return defaultPool;
  }

  /** Routes a connection Baton does not read (layer 4): the first rule without conditions. */
  public Optional<String> routeL4() {
    for (Rule rule : rules) {
      if (rule.isUnconditional()) return Optional.of(rule.pool());
    }
    return defaultPool;
  }

  private static boolean headerMatches(Rule rule, HeaderFields headers) {
    String name = rule.headerName().get();
    if (rule.headerValue().isEmpty()) return headers.contains(name);
    return headers.all(name).contains(rule.headerValue().get());
  }

  @Override
  public String toString() {
    return "Router" + rules + " default " + defaultPool.orElse("(none)");
  }
}
