package io.baton.config;

/** Config texts shared by the tests of this package. */
final class Configs {
  static final String KEY_HEX = "ee16344407eb88ebdd81e0b29de92448921a96dcfcf14d509f4cae55bb22f677";

  /**
   * A small valid dispatcher config; the invalid-config table edits it, so its line numbers are
   * part of the expected messages (line 19 is the second member).
   */
  static final String DISPATCHER =
      """
      node:
        name: d1
        roles: [dispatcher]
        interfaces:
          front: { device: front, address: 198.18.0.1 }
          fabric: { device: fabric, address: 198.18.1.1 }
      cluster:
        key: %s
      vips:
        - address: 198.18.0.100
          port: 80
          default-pool: web
          rules:
            - { name: images, path-prefix: /img/, pool: web }
      pools:
        web:
          members:
            - { node: s1, fabric-address: 198.18.1.11 }
            - { node: s2, fabric-address: 198.18.1.12, weight: 2 }
      """
          .formatted(KEY_HEX);

  /** A small valid server config. */
  static final String SERVER =
      """
      node:
        name: s1
        roles: [server]
        interfaces:
          fabric: { device: fabric, address: 198.18.1.11 }
      cluster:
        key: %s
      server:
        deliveries:
          - { vip: 198.18.0.100, port: 80, relay: 127.0.0.1:8080 }
      """
          .formatted(KEY_HEX);

  private Configs() {}

  /** {@code text} with {@code old} replaced once; fails if {@code old} is not there. */
  static String edit(String text, String old, String replacement) {
    if (!text.contains(old)) {
      throw new IllegalArgumentException("not in the config: " + old);
    }
    return text.replace(old, replacement);
  }
}
