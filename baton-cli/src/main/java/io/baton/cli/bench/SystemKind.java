package io.baton.cli.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The systems one benchmark run compares. Each balancer has a direct baseline: the same servers
 * reached without any balancer, against which its whole-machine cost and added latency are
 * measured. Immutable.
 */
enum SystemKind {
  /** The client talks to s1's nginx on its front address: no balancer. */
  DIRECT_NGINX("direct-nginx", null, "client -> nginx on s1 (no balancer)"),
  /** HAProxy in HTTP mode on lb, round-robin to the three nginx servers over the fabric. */
  HAPROXY("haproxy", DIRECT_NGINX, "HAProxy (http mode) on lb -> nginx s1..s3"),
  /** nginx as a reverse proxy on lb, round-robin with upstream keep-alive. */
  NGINX_PROXY("nginx-proxy", DIRECT_NGINX, "nginx reverse proxy on lb -> nginx s1..s3"),
  /** Baton's dispatcher on lb hands each connection to a server agent that relays to its nginx. */
  BATON_RELAY(
      "baton-relay", DIRECT_NGINX, "Baton dispatcher on lb -> handoff -> relay to nginx on s1..s3"),
  /** The client talks to Baton's sample app run standalone on s1: no balancer. */
  DIRECT_APP("direct-app", null, "client -> sample app on s1 (no balancer)"),
  /** Baton's dispatcher hands each connection to the sample app embedded in the server agents. */
  BATON_EMBEDDED(
      "baton-embedded",
      DIRECT_APP,
      "Baton dispatcher on lb -> handoff -> embedded sample app on s1..s3");

  private final String label;
  private final SystemKind baseline;
  private final String description;

  SystemKind(String label, SystemKind baseline, String description) {
    this.label = label;
    this.baseline = baseline;
    this.description = description;
  }

  /** The name used on the command line, in tables and in the JSON. */
  String label() {
    return label;
  }

  /** The direct system this one is compared with, or null for a direct system itself. */
  SystemKind baseline() {
    return baseline;
  }

  String description() {
    return description;
  }

  /** True when a balancer runs on lb (every system but the direct baselines). */
  boolean hasBalancer() {
    return baseline != null;
  }

  /** True when the system serves from the nginx servers on s1..s3. */
  boolean usesNginxServers() {
    return this == DIRECT_NGINX || this == HAPROXY || this == NGINX_PROXY || this == BATON_RELAY;
  }

  boolean isBaton() {
    return this == BATON_RELAY || this == BATON_EMBEDDED;
  }

  static SystemKind parse(String text) {
    String wanted = text.strip().toLowerCase(Locale.ROOT);
    for (SystemKind k : values()) {
      if (k.label.equals(wanted)) return k;
    }
    throw new IllegalArgumentException("unknown system '" + text + "'; known: " + labels());
  }

  static List<String> labels() {
    return Arrays.stream(values()).map(SystemKind::label).toList();
  }

  @Override
  public String toString() {
    return label;
  }
}
