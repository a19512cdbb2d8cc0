package io.baton.cli.farm;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The router's next hops for the VIP ({@link EcmpFarm#nextHops}), sampled on a virtual thread until
 * closed; each sample runs ip(8), so they come ~10 ms apart.
 */
final class NextHopSampler {
  /** One sample: when (milliseconds since the epoch) and the next hops then. */
  record Sample(long epochMillis, List<String> hops) {}

  private final AtomicBoolean sampling = new AtomicBoolean(true);
  private final List<Sample> samples = new CopyOnWriteArrayList<>();
  private final Thread thread;

  private NextHopSampler(EcmpFarm farm) {
    thread =
        Thread.ofVirtual()
            .start(
                () -> {
                  while (sampling.get()) {
                    List<String> hops = farm.nextHops();
                    samples.add(new Sample(System.currentTimeMillis(), hops));
                  }
                });
  }

  static NextHopSampler start(EcmpFarm farm) {
    return new NextHopSampler(farm);
  }

  /** Every sample so far, oldest first. */
  List<Sample> samples() {
    return List.copyOf(samples);
  }

  /**
   * The samples that differ from the one before, as "epoch seconds [hops]" (the time as tcpdump -tt
   * prints it, so it lines up with captures).
   */
  List<String> changes() {
    List<String> out = new ArrayList<>();
    List<String> last = null;
    for (Sample s : samples) {
      if (!s.hops().equals(last)) {
        out.add(String.format("%.6f %s", s.epochMillis() / 1e3, s.hops()));
        last = s.hops();
      }
    }
    return out;
  }

  /** Stops sampling and waits for the last sample. */
  void stop() throws InterruptedException {
    sampling.set(false);
    thread.join();
  }
}
