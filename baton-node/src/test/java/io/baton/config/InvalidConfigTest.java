package io.baton.config;

import static io.baton.config.Configs.DISPATCHER;
import static io.baton.config.Configs.KEY_HEX;
import static io.baton.config.Configs.SERVER;
import static io.baton.config.Configs.edit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Table of refused configs: each edits a valid config and expects one exact message, {@code
 * FILE:LINE:COLUMN: FIELD.PATH: reason}.
 */
class InvalidConfigTest {
  private static Arguments refused(String what, String yaml, String message) {
    return Arguments.of(what, yaml, message);
  }

  /** DISPATCHER with one edit. */
  private static String d(String old, String replacement) {
    return edit(DISPATCHER, old, replacement);
  }

  /** SERVER with one edit. */
  private static String s(String old, String replacement) {
    return edit(SERVER, old, replacement);
  }

  private static final String GATEWAY =
      """
      node:
        name: gwa
        roles: [gateway]
      cluster:
        key: %s
      gateway:
        lan: { device: lan, address: 198.18.4.1 }
        wan: { device: wana, address: 198.18.5.1 }
        serves: [198.18.7.0/24]
      """
          .formatted(KEY_HEX);

  /** {@code dispatcher} with a sync interface and a sync section. */
  private static String withSync(String dispatcher) {
    return edit(
            dispatcher,
            "    fabric: { device: fabric, address: 198.18.1.1 }\n",
            "    fabric: { device: fabric, address: 198.18.1.1 }\n    sync: { device: sync, address: 198.18.2.1 }\n")
        + "sync:\n  seeds: [198.18.2.1]\n";
  }

  /** GATEWAY with one edit. */
  private static String g(String old, String replacement) {
    return edit(GATEWAY, old, replacement);
  }

  /** {@code config} with the pool's members at IPv6 fabric addresses. */
  private static String ipv6Members(String config) {
    return edit(
        edit(config, "fabric-address: 198.18.1.11", "fabric-address: 2001:2:0:1::11"),
        "fabric-address: 198.18.1.12",
        "fabric-address: 2001:2:0:1::12");
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        // ---- IPv6
        refused(
            "an IPv6 VIP whose pool has IPv4 fabric addresses",
            d("address: 198.18.0.100", "address: 2001:2::100"),
            "t.yaml:12:19: vips[0].default-pool: pool 'web' has member 's1' at IPv4 fabric address 198.18.1.11, but this VIP is IPv6 (its packets are forwarded with fwd ip6 to an IPv6 fabric address)"),
        refused(
            "an IPv4 VIP whose pool has IPv6 fabric addresses",
            ipv6Members(DISPATCHER),
            "t.yaml:12:19: vips[0].default-pool: pool 'web' has member 's1' at IPv6 fabric address 2001:2:0:1::11, but this VIP is IPv4 (its packets are forwarded with fwd ip to an IPv4 fabric address)"),
        refused(
            "an IPv6 udp VIP on a direct pool",
            edit(
                ipv6Members(d("address: 198.18.0.100", "address: 2001:2::100")),
                "port: 80\n",
                "port: 53\n    mode: udp\n"),
            "t.yaml:13:19: vips[0].default-pool: pool 'web' is forwarded direct; an IPv6 udp VIP needs forwarding: encap (each flow's first datagram reaches its server wrapped in IPv4)"),
        refused(
            "an IPv6 VIP fed by an encap pool of IPv6 fabric addresses",
            edit(
                ipv6Members(d("address: 198.18.0.100", "address: 2001:2::100")),
                "  web:\n",
                "  web:\n    forwarding: encap\n"),
            "t.yaml:12:19: vips[0].default-pool: pool 'web' has member 's1' at IPv6 fabric address 2001:2:0:1::11, but an encap pool wraps every packet in IPv4 to its members"),
        refused(
            "an IPv4-mapped IPv6 VIP",
            d("address: 198.18.0.100", "address: \"::ffff:198.18.0.100\""),
            "t.yaml:10:14: vips[0].address: is an IPv4-mapped IPv6 address; write the IPv4 address 198.18.0.100 instead, got '::ffff:198.18.0.100'"),
        refused(
            "a multicast IPv6 VIP",
            d("address: 198.18.0.100", "address: ff02::1"),
            "t.yaml:10:14: vips[0].address: must be a unicast IPv6 address, got ff02::1"),
        refused(
            "a link-local IPv6 fabric address",
            d("fabric-address: 198.18.1.11", "fabric-address: fe80::11"),
            "t.yaml:18:37: pools.web.members[0].fabric-address: must not be link-local (fe80::/10 needs a zone, which Baton does not take), got fe80::11"),
        refused(
            "an IPv6 address with a zone",
            d("fabric-address: 198.18.1.11", "fabric-address: fe80::11%fabric"),
            "t.yaml:18:37: pools.web.members[0].fabric-address: must be an IPv6 address such as 2001:db8::1 (no brackets, no zone), got 'fe80::11%fabric'"),
        refused(
            "an IPv6 address that is not one",
            d("address: 198.18.0.100", "address: 2001:2::100::1"),
            "t.yaml:10:14: vips[0].address: must be an IPv6 address such as 2001:db8::1, got '2001:2::100::1'"),
        refused(
            "an IPv6 relay without brackets",
            s("relay: 127.0.0.1:8080", "relay: 2001:2::1:8080"),
            "t.yaml:10:45: server.deliveries[0].relay: an IPv6 address and port are written [ADDRESS]:PORT such as [2001:db8::1]:8080, got '2001:2::1:8080'"),
        refused(
            "an IPv4 relay in brackets",
            s("relay: 127.0.0.1:8080", "relay: \"[127.0.0.1]:8080\""),
            "t.yaml:10:45: server.deliveries[0].relay: brackets are for IPv6 addresses; write an IPv4 one as 127.0.0.1:8080, got '[127.0.0.1]:8080'"),
        refused(
            "an IPv6 sync address",
            d(
                "    fabric: { device: fabric, address: 198.18.1.1 }\n",
                "    fabric: { device: fabric, address: 198.18.1.1 }\n    sync: { device: sync, address: 2001:2:0:2::1 }\n"),
            "t.yaml:7:36: node.interfaces.sync.address: must be an IPv4 address (IPv6 is not supported here yet), got '2001:2:0:2::1'"),
        refused(
            "a sync section on an IPv6 fabric",
            d(
                    "    fabric: { device: fabric, address: 198.18.1.1 }\n",
                    "    fabric: { device: fabric, address: 2001:2:0:1::1 }\n    sync: { device: sync, address: 198.18.2.1 }\n")
                + "sync:\n  seeds: [198.18.2.1]\n",
            "t.yaml:22:3: sync: carries IPv4 fabric addresses only for now; node.interfaces.fabric is 2001:2:0:1::1"),
        refused(
            "BGP announcing an IPv6 VIP",
            ipv6Members(d("address: 198.18.0.100", "address: 2001:2::100"))
                + "announce:\n  bgp: { as: 64512, router-id: 198.18.0.1, neighbors: [{ address: 198.18.0.254, as: 64513 }] }\n",
            "t.yaml:21:3: announce: announces IPv4 VIPs only for now; VIP 2001:2::100 is IPv6"),
        refused(
            "a second IPv6 fabric address for one node",
            DISPATCHER.replace(
                    "            - { node: s2, fabric-address: 198.18.1.12, weight: 2 }\n", "")
                + "  web6:\n    members:\n      - { node: s1, fabric-address: 2001:2:0:1::11 }\n  other6:\n    members:\n      - { node: s1, fabric-address: 2001:2:0:1::99 }\n",
            "t.yaml:25:37: pools.other6.members[0].fabric-address: node 's1' has fabric-address 2001:2:0:1::11 in pool web6"),
        // ---- the gateway section
        refused(
            "gateway section on a farm node",
            s("server:\n", "gateway:\n  serves: []\nserver:\n"),
            "t.yaml:9:3: gateway: only for nodes with role gateway"),
        refused(
            "gateway without its WAN",
            g("  wan: { device: wana, address: 198.18.5.1 }\n", ""),
            "t.yaml:7:3: gateway.wan: is required: where peer gateways are reached"),
        refused(
            "gateway prefix without length",
            g("198.18.7.0/24", "198.18.7.0"),
            "t.yaml:9:12: gateway.serves[0]: must be a prefix such as 198.18.7.0/24, got '198.18.7.0'"),
        refused(
            "gateway prefix length",
            g("198.18.7.0/24", "198.18.7.0/33"),
            "t.yaml:9:12: gateway.serves[0]: prefix length must be 0-32, got 33"),
        refused(
            "gateway typo",
            g("  serves:", "  serve:"),
            "t.yaml:9:3: gateway.serve: unknown key (expected lan, wan, registration, tunnel-port, intercept-port,"
                + " serves or apply-host-preparation); did you mean 'serves'?"),
        // ---- values and types
        refused(
            "weight out of range",
            d("weight: 2", "weight: -2"),
            "t.yaml:19:58: pools.web.members[1].weight: must be 0..1000, got -2"),
        refused(
            "unknown role",
            d("roles: [dispatcher]", "roles: [balancer]"),
            "t.yaml:3:11: node.roles: unknown role 'balancer' (expected dispatcher, server or gateway)"),
        refused(
            "role twice",
            d("roles: [dispatcher]", "roles: [dispatcher, dispatcher]"),
            "t.yaml:3:23: node.roles[1]: role 'dispatcher' is listed twice"),
        refused(
            "no role",
            d("roles: [dispatcher]", "roles: []"),
            "t.yaml:3:10: node.roles: must name at least one role (dispatcher, server, gateway)"),
        refused(
            "quoted port",
            d("port: 80", "port: \"80\""),
            "t.yaml:11:11: vips[0].port: must be an integer 1..65535, got the string '80'"
                + " (drop the quotes)"),
        refused(
            "port not a number",
            d("port: 80", "port: http"),
            "t.yaml:11:11: vips[0].port: must be an integer 1..65535, got 'http'"),
        refused(
            "port too large",
            d("port: 80", "port: 70000"),
            "t.yaml:11:11: vips[0].port: must be 1..65535, got 70000"),
        refused(
            "host name instead of address",
            d("address: 198.18.0.100", "address: vip.example.com"),
            "t.yaml:10:14: vips[0].address: must be an IP address such as 198.18.0.1 or 2001:db8::1,"
                + " got 'vip.example.com' (host names are not resolved)"),
        refused(
            "octet over 255",
            d("address: 198.18.0.100", "address: 198.18.0.256"),
            "t.yaml:10:14: vips[0].address: must be an IPv4 address, octet 256 is over 255 in"
                + " '198.18.0.256'"),
        refused(
            "unspecified address",
            d("address: 198.18.0.100", "address: 0.0.0.0"),
            "t.yaml:10:14: vips[0].address: must be a unicast IPv4 address, got 0.0.0.0"),
        refused(
            "mapping where a value belongs",
            d("port: 80", "port: { number: 80 }"),
            "t.yaml:11:11: vips[0].port: must be an integer 1..65535, got a mapping"),
        refused(
            "list where a mapping belongs",
            "node: [d1]\n",
            "t.yaml:1:7: node: must be a mapping of keys to values, got a list"),
        refused(
            "unknown mode",
            d("port: 80\n", "port: 80\n    mode: sctp\n"),
            "t.yaml:12:11: vips[0].mode: unknown mode 'sctp' (expected http, tls, l4 or udp)"),
        refused(
            "bad device name",
            d("device: front,", "device: a-very-long-device-name,"),
            "t.yaml:5:22: node.interfaces.front.device: must be a network device name such as"
                + " eth1 (at most 15 characters), got 'a-very-long-device-name'"),
        // ---- unknown and missing keys
        refused(
            "typo in a key",
            d("default-pool: web", "defualt-pool: web"),
            "t.yaml:12:5: vips[0].defualt-pool: unknown key (expected address, port, mode,"
                + " default-pool, rules, reroute or delay-first-ack); did you mean 'default-pool'?"),
        refused(
            "unknown top-level section",
            DISPATCHER + "logging: debug\n",
            "t.yaml:20:1: logging: unknown key (expected node, cluster, vips, pools, timeouts,"
                + " limits, server, metrics, sync, announce, admin or gateway)"),
        refused(
            "missing member address",
            d("{ node: s1, fabric-address: 198.18.1.11 }", "{ node: s1 }"),
            "t.yaml:18:9: pools.web.members[0].fabric-address: is required"),
        refused("empty file", "", "t.yaml:1:1: node: is required"),
        refused(
            "empty value counts as missing",
            d("  name: d1\n", "  name:\n"),
            "t.yaml:2:8: node.name: is required"),
        // ---- YAML itself
        refused(
            "bad indentation",
            d("    port: 80", "     port: 80"),
            "t.yaml:11:10: vips[0]: YAML syntax: mapping values are not allowed here"),
        refused(
            "unclosed flow mapping",
            d("{ node: s1, fabric-address: 198.18.1.11 }", "{ node: s1, fabric-address: 198"),
            "t.yaml:19:9: pools.web.members[0]: YAML syntax: expected ',' or '}', but got {"
                + " (while parsing a flow mapping at 18:9)"),
        refused(
            "duplicate key",
            d("    port: 80\n", "    port: 80\n    port: 81\n"),
            "t.yaml:12:5: vips[0].port: duplicate key (first at line 11)"),
        refused(
            "alias",
            d("pools:\n", "x: &a 1\npools:\n").replace("port: 80", "port: *a"),
            "t.yaml:11:11: vips[0].port: YAML aliases (*a) are not supported; write the value"
                + " out"),
        refused(
            "two documents",
            DISPATCHER + "---\nnode: {}\n",
            "t.yaml:21:1: (document): a config file holds one YAML document, found a second"),
        refused(
            "document is a list",
            "- node\n",
            "t.yaml:1:1: (document): must be a mapping of keys to values, got a list"),
        // ---- node and roles
        refused(
            "dispatcher without front",
            d("    front: { device: front, address: 198.18.0.1 }\n", ""),
            "t.yaml:5:5: node.interfaces.front: is required for role dispatcher (clients reach"
                + " the VIPs there)"),
        refused(
            "no fabric",
            d("    fabric: { device: fabric, address: 198.18.1.1 }\n", ""),
            "t.yaml:5:5: node.interfaces.fabric: is required (handoffs and forwarded packets use"
                + " it)"),
        refused(
            "dispatcher without vips",
            d(DISPATCHER.substring(DISPATCHER.indexOf("vips:"), DISPATCHER.indexOf("pools:")), ""),
            "t.yaml:1:1: vips: role dispatcher needs at least one VIP"),
        refused(
            "server section on a dispatcher",
            DISPATCHER + "server:\n  deliveries: []\n",
            "t.yaml:21:3: server: only for nodes with role server (this node is dispatcher)"),
        // ---- cluster key
        refused(
            "no key",
            d("  key: " + KEY_HEX + "\n", "  handoff-port: 7400\n"),
            "t.yaml:8:3: cluster: needs key-file (or key): the cluster key that authenticates"
                + " handoffs; generate one with 'openssl rand -hex 32'"),
        refused(
            "key and key-file",
            d("cluster:\n", "cluster:\n  key-file: /nonexistent\n"),
            "t.yaml:9:8: cluster.key: give either key or key-file, not both"),
        refused(
            "short key",
            d(KEY_HEX, "00112233445566778899aabbccddeeff"),
            "t.yaml:8:8: cluster.key: key is 16 bytes, needs at least 32; generate one with"
                + " 'openssl rand -hex 32'"),
        refused(
            "key not hex or base64",
            d(KEY_HEX, "not a key!"),
            "t.yaml:8:8: cluster.key: key must be hex or base64 text; generate one with 'openssl"
                + " rand -hex 32'"),
        refused(
            "missing key file",
            d("  key: " + KEY_HEX, "  key-file: /nonexistent/cluster.key"),
            "t.yaml:8:13: cluster.key-file: cannot read /nonexistent/cluster.key: no such file"),
        refused(
            "handoff port zero",
            d("cluster:\n", "cluster:\n  handoff-port: 0\n"),
            "t.yaml:8:17: cluster.handoff-port: must be 1..65535, got 0"),
        // ---- vips and rules
        refused(
            "duplicate vip",
            d("pools:\n", "  - { address: 198.18.0.100, port: 80, default-pool: web }\npools:\n"),
            "t.yaml:15:36: vips[1].port: 198.18.0.100:80 is already configured in vips[0]"),
        refused(
            "unknown pool in a rule",
            d("/img/, pool: web", "/img/, pool: statik"),
            "t.yaml:14:51: vips[0].rules[0].pool: unknown pool 'statik' (pools: web)"),
        refused(
            "unknown default pool",
            d("default-pool: web", "default-pool: wbe"),
            "t.yaml:12:19: vips[0].default-pool: unknown pool 'wbe' (pools: web); did you mean"
                + " 'web'?"),
        refused(
            "sni rule in an http vip",
            d("path-prefix: /img/", "sni: img.example.com"),
            "t.yaml:14:30: vips[0].rules[0].sni: only in tls VIPs (sni rules read the TLS"
                + " ClientHello; this VIP is http)"),
        refused(
            "path rule in a tls vip",
            d("port: 80\n", "port: 443\n    mode: tls\n"),
            "t.yaml:15:38: vips[0].rules[0].path-prefix: only in http VIPs (path-prefix rules"
                + " read the HTTP request; this VIP is tls)"),
        refused(
            "per-request routing of a tls vip",
            d("port: 80\n", "port: 443\n    mode: tls\n    reroute: per-request\n"),
            "t.yaml:13:14: vips[0].reroute: per-request routing reads every request, so it needs mode http"),
        refused(
            "delay-first-ack not a boolean",
            d("port: 80\n", "port: 80\n    delay-first-ack: sometimes\n"),
            "t.yaml:12:22: vips[0].delay-first-ack: must be true or false, got 'sometimes'"),
        refused(
            "delay-first-ack on a udp vip",
            d("port: 80\n", "port: 80\n    mode: udp\n    delay-first-ack: true\n"),
            "t.yaml:13:22: vips[0].delay-first-ack: udp VIPs have no TCP acknowledgements to delay"),
        refused(
            "unknown reroute",
            d("port: 80\n", "port: 80\n    reroute: always\n"),
            "t.yaml:12:14: vips[0].reroute: unknown reroute 'always' (expected first-request or per-request)"),
        refused(
            "rules in a udp vip",
            d("port: 80\n", "port: 80\n    mode: udp\n"),
            "t.yaml:15:7: vips[0].rules: udp VIPs assign flows without reading them, so they have no rules"),
        refused(
            "unknown forwarding",
            d("  web:\n", "  web:\n    forwarding: tunnel\n"),
            "t.yaml:17:17: pools.web.forwarding: unknown forwarding 'tunnel' (expected direct or encap)"),
        refused(
            "one node forwarded two ways",
            d(
                "      - { node: s2, fabric-address: 198.18.1.12, weight: 2 }\n",
                "      - { node: s2, fabric-address: 198.18.1.12, weight: 2 }\n"
                    + "  far:\n    forwarding: encap\n    members:\n"
                    + "      - { node: s1, fabric-address: 198.18.1.11 }\n"),
            "t.yaml:21:17: pools.far.forwarding: node 's1' is forwarded direct in pool web but encap here"),
        refused(
            "encap port equal to the handoff port",
            d("  key: ", "  encap-port: 7400\n  key: "),
            "t.yaml:8:15: cluster.encap-port: the encap port (UDP) and the handoff port (TCP) must differ, both are 7400"),
        refused(
            "unknown udp service",
            s("relay: 127.0.0.1:8080 }", "udp: dns }"),
            "t.yaml:10:43: server.deliveries[0].udp: must be local (a process on this host answers on the VIP itself, e.g. a DNS server) or echo (the agent echoes each datagram), got 'dns'"),
        refused(
            "preconnect beyond its bound",
            s("relay: 127.0.0.1:8080 }", "relay: 127.0.0.1:8080, preconnect: 17 }"),
            "t.yaml:10:73: server.deliveries[0].preconnect: must be 0..16, got 17"),
        refused(
            "preconnect on a udp delivery",
            s("relay: 127.0.0.1:8080 }", "udp: local, preconnect: 1 }"),
            "t.yaml:10:62: server.deliveries[0].preconnect: is for relayed deliveries (relay:, or"
                + " workers with addresses): nothing else connects to an upstream"),
        refused(
            "udp delivery with a relay",
            s("relay: 127.0.0.1:8080 }", "relay: 127.0.0.1:8080, udp: local }"),
            "t.yaml:10:45: server.deliveries[0].relay: a udp delivery has no relay (give udp alone)"),
        refused(
            "rules in an l4 vip",
            d("port: 80\n", "port: 80\n    mode: l4\n"),
            "t.yaml:15:7: vips[0].rules: l4 VIPs hand off before reading the request, so they"
                + " have no rules"),
        refused(
            "rule without a condition",
            d("path-prefix: /img/, ", ""),
            "t.yaml:14:9: vips[0].rules[0]: needs a condition: method, host, path-prefix or"
                + " header"),
        refused(
            "relative path prefix",
            d("/img/", "img/"),
            "t.yaml:14:38: vips[0].rules[0].path-prefix: must start with / and contain no"
                + " spaces, got 'img/'"),
        refused(
            "malformed header rule",
            d("path-prefix: /img/", "header: X-Beta"),
            "t.yaml:14:33: vips[0].rules[0].header: must be 'Name: value' such as 'X-Beta: 1',"
                + " got 'X-Beta'"),
        refused(
            "lowercase method",
            d("path-prefix: /img/", "method: get"),
            "t.yaml:14:33: vips[0].rules[0].method: must be an HTTP method in capitals such as GET"
                + " or POST, got 'get'"),
        refused(
            "method with a space",
            d("path-prefix: /img/", "method: 'GET HEAD'"),
            "t.yaml:14:33: vips[0].rules[0].method: must be an HTTP method in capitals such as GET"
                + " or POST, got 'GET HEAD'"),
        refused(
            "list of methods",
            d("path-prefix: /img/", "method: [GET, HEAD]"),
            "t.yaml:14:33: vips[0].rules[0].method: must be a single value, got a list"),
        refused(
            "method rule in a tls vip",
            d("port: 80\n", "port: 443\n    mode: tls\n")
                .replace("path-prefix: /img/", "method: GET"),
            "t.yaml:15:33: vips[0].rules[0].method: only in http VIPs (method rules read the HTTP"
                + " request; this VIP is tls)"),
        refused(
            "misspelt rule key",
            d("path-prefix: /img/", "methd: GET"),
            "t.yaml:14:25: vips[0].rules[0].methd: unknown key (expected name, method, host,"
                + " path-prefix, header, sni or pool); did you mean 'method'?"),
        refused(
            "bad host pattern",
            d("path-prefix: /img/", "host: 'api example'"),
            "t.yaml:14:31: vips[0].rules[0].host: must be a host name such as api.example.com or"
                + " *.example.com, got 'api example'"),
        refused(
            "duplicate rule name",
            d("pools:\n", "      - { name: images, host: a.example.com, pool: web }\npools:\n"),
            "t.yaml:15:17: vips[0].rules[1].name: rule 'images' is already defined for this VIP"),
        // ---- pools
        refused(
            "hash-key without hash",
            d("    members:\n", "    hash-key: host\n    members:\n"),
            "t.yaml:17:15: pools.web.hash-key: only with balance: hash (this pool balances"
                + " least-connections)"),
        refused(
            "unknown balance",
            d("    members:\n", "    balance: random\n    members:\n"),
            "t.yaml:17:14: pools.web.balance: unknown balance 'random' (expected"
                + " least-connections, round-robin, hash or locality)"),
        refused(
            "path hash in a tls vip",
            d("port: 80\n", "port: 443\n    mode: tls\n")
                .replace("path-prefix: /img/", "sni: x.example.com")
                .replace("    members:\n", "    balance: hash\n    hash-key: path\n    members:\n"),
            "t.yaml:13:19: vips[0].default-pool: pool 'web' hashes on path, which a tls VIP does"
                + " not read"),
        refused(
            "duplicate member",
            d("node: s2", "node: s1"),
            "t.yaml:19:17: pools.web.members[1].node: node 's1' is already a member of this"
                + " pool"),
        refused(
            "no members",
            d(DISPATCHER.substring(DISPATCHER.indexOf("    members:")), "    members: []\n"),
            "t.yaml:17:14: pools.web.members: must list at least one member"),
        refused(
            "one node, two fabric addresses",
            DISPATCHER
                + "  other:\n    members:\n      - { node: s1, fabric-address: 198.18.1.99 }\n",
            "t.yaml:22:37: pools.other.members[0].fabric-address: node 's1' has fabric-address"
                + " 198.18.1.11 in pool web"),
        refused(
            "pool name with a dot",
            d("  web:\n", "  web.v2:\n"),
            "t.yaml:16:3: pools.web.v2: must be a pool name of letters, digits, '_' and '-', got"
                + " 'web.v2'"),
        // ---- timeouts and limits
        refused(
            "duration without unit",
            DISPATCHER + "timeouts:\n  handoff: 5\n",
            "t.yaml:21:12: timeouts.handoff: must be a duration such as 500ms, 5s, 2m or 1h, got"
                + " '5'"),
        refused(
            "zero duration",
            DISPATCHER + "timeouts:\n  close-grace: 0s\n",
            "t.yaml:21:16: timeouts.close-grace: must be more than 0, got 0s"),
        refused(
            "head shorter than first byte",
            DISPATCHER + "timeouts:\n  first-byte: 5s\n  head: 500ms\n",
            "t.yaml:22:9: timeouts.head: must be at least first-byte (5s), got 500ms"),
        refused(
            "head bytes too small",
            DISPATCHER + "limits:\n  max-head-bytes: 100\n",
            "t.yaml:21:19: limits.max-head-bytes: must be 1024..1048576, got 100"),
        refused(
            "removed forwarding-entry",
            DISPATCHER + "timeouts:\n  forwarding-entry: 1h\n",
            "t.yaml:21:3: timeouts.forwarding-entry: removed: forwarding entries now live as long"
                + " as their connection"),
        refused(
            "removed forwarding-entry among valid keys",
            DISPATCHER + "timeouts:\n  head: 10s\n  forwarding-entry: 1h\n  idel: 5s\n",
            "t.yaml:22:3: timeouts.forwarding-entry: removed: forwarding entries now live as long"
                + " as their connection"),
        refused(
            "typo in a timeout",
            DISPATCHER + "timeouts:\n  idel: 5s\n",
            "t.yaml:21:3: timeouts.idel: unknown key (expected first-byte, head, handoff,"
                + " close-grace, idle, fabric-dead-after, fabric-heartbeat or udp-flow-idle); did you mean"
                + " 'idle'?"),
        refused(
            "idle without unit",
            DISPATCHER + "timeouts:\n  idle: 60\n",
            "t.yaml:21:9: timeouts.idle: must be a duration such as 500ms, 5s, 2m or 1h, got"
                + " '60'"),
        refused(
            "idle zero",
            DISPATCHER + "timeouts:\n  idle: 0s\n",
            "t.yaml:21:9: timeouts.idle: must be more than 0, got 0s"),
        refused(
            "heartbeat not under half of dead-after",
            DISPATCHER + "timeouts:\n  fabric-heartbeat: 500ms\n",
            "t.yaml:21:21: timeouts.fabric-heartbeat: must be less than half of fabric-dead-after"
                + " (1s), got 500ms"),
        refused(
            "both fabric timeouts, heartbeat named",
            DISPATCHER + "timeouts:\n  fabric-dead-after: 2s\n  fabric-heartbeat: 1s\n",
            "t.yaml:22:21: timeouts.fabric-heartbeat: must be less than half of fabric-dead-after"
                + " (2s), got 1s"),
        refused(
            "dead-after too short for the default heartbeat",
            DISPATCHER + "timeouts:\n  fabric-dead-after: 400ms\n",
            "t.yaml:21:22: timeouts.fabric-dead-after: must be more than twice fabric-heartbeat"
                + " (200ms, the default), got 400ms"),
        refused(
            "dead-after not a duration",
            DISPATCHER + "timeouts:\n  fabric-dead-after: fast\n",
            "t.yaml:21:22: timeouts.fabric-dead-after: must be a duration such as 500ms, 5s, 2m"
                + " or 1h, got 'fast'"),
        refused(
            "heartbeat a number",
            DISPATCHER + "timeouts:\n  fabric-heartbeat: [1]\n",
            "t.yaml:21:21: timeouts.fabric-heartbeat: must be a single value, got a list"),
        refused(
            "pending connections zero",
            DISPATCHER + "limits:\n  max-pending-connections: 0\n",
            "t.yaml:21:28: limits.max-pending-connections: must be 1..1000000, got 0"),
        refused(
            "pending connections too many",
            DISPATCHER + "limits:\n  max-pending-connections: 2000000\n",
            "t.yaml:21:28: limits.max-pending-connections: must be 1..1000000, got 2000000"),
        refused(
            "pending connections not a number",
            DISPATCHER + "limits:\n  max-pending-connections: lots\n",
            "t.yaml:21:28: limits.max-pending-connections: must be an integer 1..1000000, got"
                + " 'lots'"),
        refused(
            "pending per client zero",
            DISPATCHER + "limits:\n  max-pending-per-client: 0\n",
            "t.yaml:21:27: limits.max-pending-per-client: must be 1..1000000, got 0"),
        refused(
            "pending per client quoted",
            DISPATCHER + "limits:\n  max-pending-per-client: \"64\"\n",
            "t.yaml:21:27: limits.max-pending-per-client: must be an integer 1..1000000, got the"
                + " string '64' (drop the quotes)"),
        refused(
            "pending per client over the total",
            DISPATCHER + "limits:\n  max-pending-connections: 10\n  max-pending-per-client: 20\n",
            "t.yaml:22:27: limits.max-pending-per-client: must not exceed max-pending-connections"
                + " (10), got 20"),
        refused(
            "header count zero",
            DISPATCHER + "limits:\n  max-header-count: 0\n",
            "t.yaml:21:21: limits.max-header-count: must be 1..10000, got 0"),
        refused(
            "header count too large",
            DISPATCHER + "limits:\n  max-header-count: 10001\n",
            "t.yaml:21:21: limits.max-header-count: must be 1..10000, got 10001"),
        refused(
            "header count not a number",
            DISPATCHER + "limits:\n  max-header-count: 1.5\n",
            "t.yaml:21:21: limits.max-header-count: must be an integer 1..10000, got '1.5'"),
        refused(
            "metrics on a host name",
            DISPATCHER + "metrics:\n  listen: localhost:9400\n",
            "t.yaml:21:11: metrics.listen: must be an IPv4 address such as 198.18.0.1, got"
                + " 'localhost' (host names are not resolved)"),
        // ---- server
        refused(
            "server without deliveries",
            s(SERVER.substring(SERVER.indexOf("server:\n")), "server: {}\n"),
            "t.yaml:8:9: server.deliveries: is required: one per VIP port this server serves"),
        refused(
            "server role without server section",
            SERVER.substring(0, SERVER.indexOf("server:\n")),
            "t.yaml:1:1: server: is required for role server (it lists the deliveries)"),
        refused(
            "relay and embedded",
            s("relay: 127.0.0.1:8080 }", "relay: 127.0.0.1:8080, embedded: { app: a } }"),
            "t.yaml:10:71: server.deliveries[0].embedded: give one of relay, workers and embedded, not several"),
        refused(
            "workers without members",
            s("relay: 127.0.0.1:8080 }", "workers: { balance: least-connections } }"),
            "t.yaml:10:47: server.deliveries[0].workers.members: is required: the workers' addresses"),
        refused(
            "workers balance",
            s(
                "relay: 127.0.0.1:8080 }",
                "workers: { balance: random, members: [ { name: w1, address: 127.0.0.1:8081 } ] } }"),
            "t.yaml:10:58: server.deliveries[0].workers.balance: must be least-connections or round-robin, got 'random'"),
        refused(
            "worker twice",
            s(
                "relay: 127.0.0.1:8080 }",
                "workers: { members: [ { name: w1, address: 127.0.0.1:8081 },"
                    + " { name: w1, address: 127.0.0.1:8082 } ] } }"),
            "t.yaml:10:107: server.deliveries[0].workers.members[1].name: worker 'w1' is listed twice"),
        refused(
            "worker with address and socket",
            s(
                "relay: 127.0.0.1:8080 }",
                "workers: { members: [ { name: w1, address: 127.0.0.1:8081, socket: /run/w1.sock } ] } }"),
            "t.yaml:10:60: server.deliveries[0].workers.members[0]: give the worker an address (its connections are"
                + " relayed to it) or a socket (they are passed to it), exactly one"),
        refused(
            "workers mixed",
            s(
                "relay: 127.0.0.1:8080 }",
                "workers: { members: [ { name: w1, socket: /run/w1.sock },"
                    + " { name: w2, address: 127.0.0.1:8082 } ] } }"),
            "t.yaml:10:117: server.deliveries[0].workers.members[1].address: mixes workers with sockets and workers"
                + " with addresses; a pool is one or the other (connections passed, or relayed)"),
        refused(
            "socket twice",
            s(
                "relay: 127.0.0.1:8080 }",
                "workers: { members: [ { name: w1, socket: /run/w.sock },"
                    + " { name: w2, socket: /run/w.sock } ] } }"),
            "t.yaml:10:115: server.deliveries[0].workers.members[1].socket: is another worker's socket too"),
        refused(
            "direct on the VIP",
            s(
                "relay: 127.0.0.1:8080 }",
                "workers: { members: [ { name: w1, address: 127.0.0.1:8081 } ],"
                    + " direct: 198.18.0.100:80 } }"),
            "t.yaml:10:109: server.deliveries[0].workers.direct: is the VIP; name this server's own address (the VIP's"
                + " connections come by handoff)"),
        refused(
            "direct with sockets",
            s(
                "relay: 127.0.0.1:8080 }",
                "workers: { members: [ { name: w1, socket: /run/w.sock } ],"
                    + " direct: 198.18.0.11:80 } }"),
            "t.yaml:10:105: server.deliveries[0].workers.direct: is for workers with addresses: a connection the kernel"
                + " delivers never reaches the agent, so it cannot be passed to a socket"),
        refused(
            "relay without port",
            s("127.0.0.1:8080", "127.0.0.1"),
            "t.yaml:10:45: server.deliveries[0].relay: must be ADDRESS:PORT such as"
                + " 127.0.0.1:8080, got '127.0.0.1'"),
        refused(
            "duplicate delivery",
            SERVER + "    - { vip: 198.18.0.100, port: 80, embedded: { app: a, root: /srv } }\n",
            "t.yaml:11:34: server.deliveries[1].port: 198.18.0.100:80 already has a delivery in"
                + " server.deliveries[0]"),
        refused(
            "peer mode delivery for a vip not dispatched",
            edit(DISPATCHER, "roles: [dispatcher]", "roles: [dispatcher, server]")
                + "server:\n  deliveries:\n    - { vip: 198.18.0.100, port: 81, relay:"
                + " 127.0.0.1:8080 }\n",
            "t.yaml:22:34: server.deliveries[0].port: 198.18.0.100:81 is not one of this node's"
                + " vips (198.18.0.100:80)"),
        refused(
            "peer mode serving a udp vip",
            edit(DISPATCHER, "roles: [dispatcher]", "roles: [dispatcher, server]")
                + "server:\n  deliveries:\n    - { vip: 198.18.0.100, port: 53, udp: local }\n",
            "t.yaml:22:43: server.deliveries[0].udp: a node that also dispatches cannot serve a udp"
                + " VIP itself (peer mode is TCP only): its dispatcher's socket holds the port"),
        refused(
            "an empty dispatcher list",
            s("server:\n", "server:\n  dispatchers: []\n"),
            "t.yaml:9:16: server.dispatchers: must list at least one fabric address, or be left out"),
        refused(
            "a dispatcher that is not an address",
            s("server:\n", "server:\n  dispatchers: [d1]\n"),
            "t.yaml:9:17: server.dispatchers[0]: must be an IP address such as 198.18.0.1 or"
                + " 2001:db8::1, got 'd1' (host names are not resolved)"),
        refused(
            "a sync section without a sync interface",
            DISPATCHER + "sync:\n  seeds: [198.18.2.1]\n",
            "t.yaml:21:3: sync: needs node.interfaces.sync: the address this node's sync plane binds"),
        refused(
            "a sync section without seeds",
            d(
                    "    fabric: { device: fabric, address: 198.18.1.1 }\n",
                    "    fabric: { device: fabric, address: 198.18.1.1 }\n    sync: { device: sync, address: 198.18.2.1 }\n")
                + "sync:\n  port: 7500\n",
            "t.yaml:22:3: sync.seeds: is required: the sync addresses of some of the farm's nodes, asked when joining"),
        refused(
            "reports that go stale before the next one is due",
            d(
                    "    fabric: { device: fabric, address: 198.18.1.1 }\n",
                    "    fabric: { device: fabric, address: 198.18.1.1 }\n    sync: { device: sync, address: 198.18.2.1 }\n")
                + "sync:\n  seeds: [198.18.2.1]\n  report-interval: 500ms\n",
            "t.yaml:23:20: sync.report-interval: stale-after (750ms) must be at least twice report-interval (500ms)"),
        refused(
            "a discovering pool without the sync plane",
            d(
                "    members:\n      - { node: s1, fabric-address: 198.18.1.11 }\n      - { node: s2, fabric-address: 198.18.1.12, weight: 2 }\n",
                "    members: discover\n"),
            "t.yaml:17:14: pools.web.members: discover needs the sync section: servers announce what they serve there"),
        refused(
            "a discovering pool forwarded encap",
            withSync(
                edit(
                    DISPATCHER,
                    "    members:\n      - { node: s1, fabric-address: 198.18.1.11 }\n      - { node: s2, fabric-address: 198.18.1.12, weight: 2 }\n",
                    "    forwarding: encap\n    members: discover\n")),
            "t.yaml:18:17: pools.web.forwarding: encap forwarding needs the pool's members listed (members: discover is not supported with it yet)"),
        refused(
            "a udp VIP on a discovering pool",
            withSync(
                edit(
                    edit(
                        DISPATCHER,
                        "    members:\n      - { node: s1, fabric-address: 198.18.1.11 }\n      - { node: s2, fabric-address: 198.18.1.12, weight: 2 }\n",
                        "    members: discover\n"),
                    "  - address: 198.18.0.100\n    port: 80\n    default-pool: web\n    rules:\n      - { name: images, path-prefix: /img/, pool: web }\n",
                    "  - { address: 198.18.0.100, port: 53, mode: udp, default-pool: web }\n")),
            "t.yaml:11:65: vips[0].default-pool: pool 'web' discovers its members, which udp VIPs do not support yet (servers report TCP services only): list the members"),
        refused(
            "members that are neither a list nor discover",
            d(
                "    members:\n      - { node: s1, fabric-address: 198.18.1.11 }\n      - { node: s2, fabric-address: 198.18.1.12, weight: 2 }\n",
                "    members: everyone\n"),
            "t.yaml:17:14: pools.web.members: must be a list of members, or discover (every server of the sync plane that serves the VIP port)"),
        refused(
            "announce on a server-only node",
            SERVER
                + "announce:\n  bgp: { as: 65001, neighbors: [{ address: 198.18.0.254, as: 65000 }] }\n",
            "t.yaml:12:3: announce: only for nodes with role dispatcher (they announce the VIPs)"),
        refused(
            "an AS number that is not one",
            DISPATCHER
                + "announce:\n  bgp: { as: 0, neighbors: [{ address: 198.18.0.254, as: 65000 }] }\n",
            "t.yaml:21:14: announce.bgp.as: must be an AS number 1..4294967294, got '0'"),
        refused(
            "announce without neighbors",
            DISPATCHER + "announce:\n  bgp: { as: 65001 }\n",
            "t.yaml:21:8: announce.bgp.neighbors: is required: the routers to announce the VIPs to"),
        refused(
            "a hold time below BGP's minimum",
            DISPATCHER
                + "announce:\n  bgp: { as: 65001, hold-time: 1s, neighbors: [{ address: 198.18.0.254, as: 65000 }] }\n",
            "t.yaml:21:32: announce.bgp.hold-time: must be 3s..65535s (BGP), got 1s"),
        refused(
            "a health check that is both tcp and http",
            s(
                "server:\n",
                "server:\n  health-check: { tcp: 127.0.0.1:8080, http: 127.0.0.1:8080 }\n"),
            "t.yaml:9:17: server.health-check: give exactly one of tcp (connect to the address) and http (GET a path there)"),
        refused(
            "a path on a tcp health check",
            s("server:\n", "server:\n  health-check: { tcp: 127.0.0.1:8080, path: /healthz }\n"),
            "t.yaml:9:46: server.health-check.path: only for http checks"),
        refused(
            "a health check timeout longer than its interval",
            s(
                "server:\n",
                "server:\n  health-check: { http: 127.0.0.1:8080, interval: 1s, timeout: 2s }\n"),
            "t.yaml:9:64: server.health-check.timeout: must not exceed interval (1s), got 2s"),
        refused(
            "yes/no is a boolean, a word is not",
            s("server:\n", "server:\n  apply-host-preparation: maybe\n"),
            "t.yaml:9:27: server.apply-host-preparation: must be true or false, got 'maybe'"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void refusesWithOneLineNamingFileLineColumnAndField(String what, String yaml, String message) {
    assertThatThrownBy(() -> ConfigLoader.parse(yaml, "t.yaml"))
        .isInstanceOf(ConfigException.class)
        .hasMessage(message)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
  }
}
