package io.baton.lab.wan;

import java.time.Duration;

/**
 * The settings of an emulated WAN link, the same in both directions (each direction has its own
 * queue and its own serialization at this rate). A {@link DelayLine} applies them to each packet in
 * this order: random loss, tail drop at the queue limit, serialization at the rate, then the
 * one-way delay (plus, for a reordered packet, the reorder delay on top).
 *
 * <pre>{@code
 * WanLink link = WanLink.of(Duration.ofMillis(25), 100_000_000).withLossProbability(0.01);
 * }</pre>
 *
 * <p>Immutable.
 *
 * @param oneWayDelay propagation delay of each direction, 0 to 10 s
 * @param lossProbability chance that a packet is dropped at random, 0 to 1
 * @param bitsPerSecond serialization rate of each direction, counting whole IP packets
 * @param queueLimitBytes bytes a direction may hold waiting for serialization; a packet that would
 *     exceed it is dropped (tail drop). {@link #of} sets one bandwidth-delay product of the round
 *     trip, at least {@link #MIN_DEFAULT_QUEUE_BYTES}
 * @param reorderProbability chance that a packet is held back by {@code reorderDelay} more than the
 *     others, so later packets overtake it; 0 keeps every direction in order
 * @param reorderDelay the extra delay of a reordered packet
 * @param seed seeds the random loss and reorder choices, so a run can be repeated
 */
public record WanLink(
    Duration oneWayDelay,
    double lossProbability,
    long bitsPerSecond,
    long queueLimitBytes,
    double reorderProbability,
    Duration reorderDelay,
    long seed) {
  /** The smallest queue {@link #of} picks: a few dozen full-size packets even on a short link. */
  public static final long MIN_DEFAULT_QUEUE_BYTES = 64 * 1024;

  private static final Duration MAX_DELAY = Duration.ofSeconds(10);

  /** Well past any rate a Java reader on a TUN device can serve. */
  private static final long MAX_BITS_PER_SECOND = 100_000_000_000L;

  /** The smallest queue that still holds one full-size IP packet. */
  private static final long MIN_QUEUE_BYTES = 1500;

  private static final long DEFAULT_SEED = 0x5EED_BA70_4E11L;

  public WanLink {
    checkDelay("one-way delay", oneWayDelay);
    checkProbability("loss probability", lossProbability);
    if (bitsPerSecond < 1_000 || bitsPerSecond > MAX_BITS_PER_SECOND) {
      throw new IllegalArgumentException(
          "rate " + bitsPerSecond + " bit/s is outside 1000.." + MAX_BITS_PER_SECOND + " bit/s");
    }
    if (queueLimitBytes < MIN_QUEUE_BYTES) {
      throw new IllegalArgumentException(
          "queue limit "
              + queueLimitBytes
              + " bytes cannot hold one 1500-byte packet; use at least "
              + MIN_QUEUE_BYTES);
    }
    checkProbability("reorder probability", reorderProbability);
    checkDelay("reorder delay", reorderDelay);
    if (reorderProbability > 0 && reorderDelay.isZero()) {
      throw new IllegalArgumentException(
          "reorder probability "
              + reorderProbability
              + " needs a reorder delay above 0 to move a packet back");
    }
  }

  /**
   * A link with {@code oneWayDelay} each way at {@code bitsPerSecond} each way: no loss, no
   * reordering, a queue of one round trip's bandwidth-delay product (at least {@link
   * #MIN_DEFAULT_QUEUE_BYTES}), a fixed seed.
   */
  public static WanLink of(Duration oneWayDelay, long bitsPerSecond) {
    checkDelay("one-way delay", oneWayDelay);
    double roundTripSeconds = 2 * oneWayDelay.toNanos() / 1e9;
    long bdpBytes = (long) Math.ceil(bitsPerSecond / 8.0 * roundTripSeconds);
    long queueLimitBytes = Math.max(MIN_DEFAULT_QUEUE_BYTES, bdpBytes);
    return new WanLink(
        oneWayDelay, 0, bitsPerSecond, queueLimitBytes, 0, Duration.ZERO, DEFAULT_SEED);
  }

  public WanLink withLossProbability(double probability) {
    return new WanLink(
        oneWayDelay,
        probability,
        bitsPerSecond,
        queueLimitBytes,
        reorderProbability,
        reorderDelay,
        seed);
  }

  public WanLink withQueueLimitBytes(long bytes) {
    return new WanLink(
        oneWayDelay, lossProbability, bitsPerSecond, bytes, reorderProbability, reorderDelay, seed);
  }

  /** Holds back a share {@code probability} of the packets by {@code extraDelay}. */
  public WanLink withReorder(double probability, Duration extraDelay) {
    return new WanLink(
        oneWayDelay,
        lossProbability,
        bitsPerSecond,
        queueLimitBytes,
        probability,
        extraDelay,
        seed);
  }

  public WanLink withSeed(long newSeed) {
    return new WanLink(
        oneWayDelay,
        lossProbability,
        bitsPerSecond,
        queueLimitBytes,
        reorderProbability,
        reorderDelay,
        newSeed);
  }

  /** Nanoseconds it takes to put {@code bytes} on the wire at this rate. */
  long serializationNs(int bytes) {
    return bytes * 8L * 1_000_000_000L / bitsPerSecond;
  }

  @Override
  public String toString() {
    return "WanLink["
        + oneWayDelay.toNanos() / 1e6
        + " ms each way, "
        + bitsPerSecond / 1e6
        + " Mbit/s, loss "
        + lossProbability
        + ", queue "
        + queueLimitBytes
        + " B, reorder "
        + reorderProbability
        + " by "
        + reorderDelay.toNanos() / 1e6
        + " ms, seed "
        + seed
        + "]";
  }

  private static void checkDelay(String what, Duration delay) {
    if (delay == null) throw new IllegalArgumentException(what + " is missing");
    if (delay.isNegative() || delay.compareTo(MAX_DELAY) > 0) {
      throw new IllegalArgumentException(what + " " + delay + " is outside 0.." + MAX_DELAY);
    }
  }

  private static void checkProbability(String what, double p) {
    // Written so that NaN fails too.
    if (!(p >= 0 && p <= 1))
      throw new IllegalArgumentException(what + " " + p + " is outside 0..1");
  }
}
