package io.baton.routing;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Consistent hashing on a ring of virtual nodes: each member owns {@code pointsPerWeight × weight}
 * points ({@link Murmur3} of {@code "node#i"}), a key goes to the owner of the first point at or
 * after its hash. Adding or removing a member moves only about {@code 1/n} of the keys, and only to
 * or from that member. Exclusion walks on along the ring to the next member not excluded, which is
 * exactly where the key would go if the excluded members had left, so retries after a refusal stay
 * stable too.
 *
 * <p>Immutable after construction and thread-safe.
 */
public final class ConsistentHashBalancer implements Balancer {
  /** Points per unit of weight: 100 keeps members within about ±20% of their fair share. */
  public static final int DEFAULT_POINTS_PER_WEIGHT = 100;

  private static final int SEED = 0x0ba7_0001;

  private final List<Member> members;
  private final HashKey key;
  private final long[] ring; // sorted point hashes
  private final int[] owners; // member index of each point

  public ConsistentHashBalancer(List<Member> members, HashKey key) {
    this(members, key, DEFAULT_POINTS_PER_WEIGHT);
  }

  public ConsistentHashBalancer(List<Member> members, HashKey key, int pointsPerWeight) {
    this.members = List.copyOf(members);
    this.key = Objects.requireNonNull(key, "key");
    if (pointsPerWeight < 1) {
      throw new IllegalArgumentException("pointsPerWeight must be >= 1, got " + pointsPerWeight);
    }
    int points = 0;
    for (Member m : this.members) points += m.weight() * pointsPerWeight;
    long[] entries = new long[points * 2]; // (hash, member index) pairs, sorted below
    int at = 0;
    for (int index = 0; index < this.members.size(); index++) {
      Member m = this.members.get(index);
      for (int i = 0; i < m.weight() * pointsPerWeight; i++) {
        entries[at++] = Murmur3.hash64(utf8(m.node() + "#" + i), SEED);
        entries[at++] = index;
      }
    }
    Integer[] order = new Integer[points];
    for (int i = 0; i < points; i++) order[i] = i;
    // Ties between equal hashes go to the lower member index, so the ring is deterministic.
    Arrays.sort(
        order,
        (a, b) ->
            entries[2 * a] != entries[2 * b]
                ? Long.compare(entries[2 * a], entries[2 * b])
                : Long.compare(entries[2 * a + 1], entries[2 * b + 1]));
    ring = new long[points];
    owners = new int[points];
    for (int i = 0; i < points; i++) {
      ring[i] = entries[2 * order[i]];
      owners[i] = (int) entries[2 * order[i] + 1];
    }
  }

  @Override
  public List<Member> members() {
    return members;
  }

  public HashKey key() {
    return key;
  }

  @Override
  public Optional<Member> pick(PickContext ctx, Set<String> exclude) {
    if (ring.length == 0) return Optional.empty();
    int start = Arrays.binarySearch(ring, Murmur3.hash64(keyBytes(ctx), SEED));
    if (start < 0) start = -start - 1;
    for (int i = 0; i < ring.length; i++) {
      Member m = members.get(owners[(start + i) % ring.length]);
      if (!exclude.contains(m.node())) return Optional.of(m);
    }
    return Optional.empty();
  }

  private byte[] keyBytes(PickContext ctx) {
    Optional<String> text =
        switch (key) {
          case CLIENT_IP -> Optional.empty();
          case HOST -> ctx.host();
          case PATH -> ctx.path();
        };
    return text.isPresent() ? utf8(text.get()) : ctx.clientIp().getAddress();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return "ConsistentHash("
        + key.configName()
        + ")"
        + members.stream().map(m -> m.node() + "*" + m.weight()).toList();
  }
}
