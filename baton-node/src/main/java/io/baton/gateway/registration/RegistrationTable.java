package io.baton.gateway.registration;

import java.net.InetAddress;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The proxy registration table: registrations keyed by the remote address (a hash table, as in the
 * seed). Lookups see an entry only until it expires; {@link #expire} removes lapsed entries and
 * tells the listener, which takes them out of the interception rules.
 *
 * <p>Thread-safe: the daemon's threads write, the gateway's event loop reads.
 */
public final class RegistrationTable {
  private final ConcurrentHashMap<InetAddress, Registration> entries = new ConcurrentHashMap<>();
  private final Clock clock;
  private final Consumer<List<Registration>> onChange;

  /**
   * @param onChange called (on the writer's thread, under no lock) with the whole table after each
   *     change
   */
  public RegistrationTable(Clock clock, Consumer<List<Registration>> onChange) {
    this.clock = clock;
    this.onChange = onChange;
  }

  /** Adds or renews the entry for {@code registration.remote()}; returns the one it replaced. */
  public synchronized Optional<Registration> put(Registration registration) {
    Optional<Registration> old =
        Optional.ofNullable(entries.put(registration.remote(), registration));
    onChange.accept(list());
    return old;
  }

  public synchronized Optional<Registration> remove(InetAddress remote) {
    Optional<Registration> old = Optional.ofNullable(entries.remove(remote));
    if (old.isPresent()) onChange.accept(list());
    return old;
  }

  /** The live registration covering {@code remote}:{@code port}, if any. */
  public Optional<Registration> lookup(InetAddress remote, int port) {
    Registration r = entries.get(remote);
    if (r == null || !r.ports().contains(port) || !clock.instant().isBefore(r.expiresAt())) {
      return Optional.empty();
    }
    return Optional.of(r);
  }

  /** Removes every entry past its expiry; returns them. */
  public synchronized List<Registration> expire() {
    Instant now = clock.instant();
    List<Registration> gone = new ArrayList<>();
    entries
        .values()
        .removeIf(
            r -> {
              boolean lapsed = !now.isBefore(r.expiresAt());
              if (lapsed) gone.add(r);
              return lapsed;
            });
    if (!gone.isEmpty()) onChange.accept(list());
    return gone;
  }

  /** Every entry, by remote address. */
  public List<Registration> list() {
    List<Registration> all = new ArrayList<>(entries.values());
    all.sort(Comparator.comparing(r -> r.remote().getHostAddress()));
    return all;
  }
}
