package io.baton.config;

import io.baton.linux.IpText;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads the {@code pools} section: per pool the balancing method, the hash key (only with {@code
 * balance: hash}, default {@code client-ip}) and at least one member with a unique node name. A
 * node that appears in several pools must have the same fabric address in all of them.
 *
 * <p>Stateless.
 */
final class PoolsBinder {
  private PoolsBinder() {}

  /** Pools by name in file order; empty if the section is absent. */
  static Map<String, PoolConfig> bind(ConfigField pools, boolean syncPlane) throws ConfigException {
    Map<String, PoolConfig> byName = new LinkedHashMap<>();
    Map<String, MemberSeen> nodes = new HashMap<>();
    pools.keysMatch(Names.SIMPLE, "a pool name of letters, digits, '_' and '-'");
    for (ConfigField pool : pools.entries()) {
      String name = pool.key();
      byName.put(name, pool(name, pool.required("must list the pool's members"), nodes, syncPlane));
    }
    return byName;
  }

  /** Where a node was first seen as a member, to catch conflicting fabric addresses. */
  private record MemberSeen(InetAddress fabricAddress, String pool, Forwarding forwarding) {}

  private static PoolConfig pool(
      String name, ConfigField pool, Map<String, MemberSeen> nodes, boolean syncPlane)
      throws ConfigException {
    pool.allowKeys("balance", "hash-key", "members", "forwarding");
    ConfigField balanceField = pool.get("balance");
    Balance balance =
        balanceField.isPresent()
            ? balanceField.asEnum(Balance.class, "balance")
            : Balance.LEAST_CONNECTIONS;
    ConfigField hashKeyField = pool.get("hash-key");
    Optional<HashKey> hashKey = Optional.empty();
    if (balance == Balance.HASH) {
      hashKey =
          Optional.of(
              hashKeyField.isPresent()
                  ? hashKeyField.asEnum(HashKey.class, "hash key")
                  : HashKey.CLIENT_IP);
    } else if (hashKeyField.isPresent()) {
      throw hashKeyField.error(
          "only with balance: hash (this pool balances " + balance.configName() + ")");
    }

    ConfigField forwardingField = pool.get("forwarding");
    Forwarding forwarding =
        forwardingField.isPresent()
            ? forwardingField.asEnum(Forwarding.class, "forwarding")
            : Forwarding.DIRECT;
    ConfigField membersField =
        pool.get("members").required("is required: a pool needs at least one member");
    if (membersField.isScalar()) {
      if (!membersField.asString().equals("discover")) {
        throw membersField.error(
            "must be a list of members, or discover (every server of the sync plane that"
                + " serves the VIP port)");
      }
      if (!syncPlane)
        throw membersField.error(
            "discover needs the sync section: servers announce what they serve there");
      if (forwarding == Forwarding.ENCAP) {
        throw forwardingField.error(
            "encap forwarding needs the pool's members listed (members: discover is not supported"
                + " with it yet)");
      }
      return new PoolConfig(name, balance, hashKey, List.of(), true, forwarding);
    }
    List<ConfigField> memberFields = membersField.list();
    if (memberFields.isEmpty()) {
      throw pool.get("members").error("must list at least one member");
    }
    List<MemberConfig> members = new ArrayList<>();
    for (ConfigField field : memberFields) {
      MemberConfig member = member(field);
      for (MemberConfig earlier : members) {
        if (earlier.node().equals(member.node())) {
          throw field
              .get("node")
              .error("node '" + member.node() + "' is already a member of" + " this pool");
        }
        if (earlier.fabricAddress().equals(member.fabricAddress())) {
          throw field
              .get("fabric-address")
              .error(
                  IpText.of(member.fabricAddress())
                      + " is already the address of member '"
                      + earlier.node()
                      + "'");
        }
      }
      // A node has one fabric address per family: a dual-stack server is listed with its IPv4
      // address in the pools of IPv4 VIPs and its IPv6 address in those of IPv6 VIPs.
      boolean v6 = member.fabricAddress() instanceof Inet6Address;
      MemberSeen seen =
          nodes.putIfAbsent(
              member.node() + (v6 ? " ipv6" : ""),
              new MemberSeen(member.fabricAddress(), name, forwarding));
      MemberSeen other = nodes.get(member.node() + (v6 ? "" : " ipv6"));
      if (seen == null && other != null && other.forwarding() != forwarding) seen = other;
      if (seen != null
          && !seen.fabricAddress().equals(member.fabricAddress())
          && (seen.fabricAddress() instanceof Inet6Address) == v6) {
        throw field
            .get("fabric-address")
            .error(
                "node '"
                    + member.node()
                    + "' has fabric-address "
                    + IpText.of(seen.fabricAddress())
                    + " in pool "
                    + seen.pool());
      }
      if (seen != null && seen.forwarding() != forwarding) {
        // Forwarding is a property of the path to the server: one way for all its pools.
        throw (forwardingField.isPresent() ? forwardingField : field.get("node"))
            .error(
                "node '"
                    + member.node()
                    + "' is forwarded "
                    + seen.forwarding().configName()
                    + " in pool "
                    + seen.pool()
                    + " but "
                    + forwarding.configName()
                    + " here");
      }
      members.add(member);
    }
    return new PoolConfig(name, balance, hashKey, members, false, forwarding);
  }

  private static MemberConfig member(ConfigField member) throws ConfigException {
    member.allowKeys("node", "fabric-address", "weight");
    String node = member.get("node").required().asName(Names.NODE, Names.NODE_TEXT);
    InetAddress address = member.get("fabric-address").required().asIp();
    ConfigField weight = member.get("weight");
    return new MemberConfig(
        node,
        address,
        weight.isPresent()
            ? weight.asInt(MemberConfig.MIN_WEIGHT, MemberConfig.MAX_WEIGHT)
            : MemberConfig.DEFAULT_WEIGHT);
  }
}
