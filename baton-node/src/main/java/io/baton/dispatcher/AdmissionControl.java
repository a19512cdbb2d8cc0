package io.baton.dispatcher;

import java.net.InetAddress;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Caps the connections a dispatcher holds in the first-request phase (accepted, its request not yet
 * read and routed): in total and per client IP address. A connection in that phase costs a socket,
 * a buffer of up to {@code max-head-bytes} and two timers while its client decides how fast to
 * send, so without a cap a few slow or silent clients (slowloris, idle connects) could hold every
 * descriptor the dispatcher has; the per-client cap keeps one address from using up the total that
 * everyone shares.
 *
 * <p>Each admitted connection holds a {@link Ticket} until its first-request phase ends for any
 * reason (handoff started, answered, closed, timed out, failed); {@link Ticket#release} gives the
 * place back exactly once, however often it is called.
 *
 * <p>Thread-safe and lock-free: every event loop admits and releases concurrently. The total is
 * reserved first and given back if the client's own cap refuses, so the total never exceeds its cap
 * even for a moment; the per-client map holds an entry only while that client has a connection in
 * the phase.
 */
public final class AdmissionControl {
  /** What {@link #tryAdmit} decided. */
  public enum Outcome {
    ADMITTED,
    /** {@code max-pending-connections} connections are already in the phase. */
    REFUSED_TOTAL,
    /** This client IP already has {@code max-pending-per-client} connections in the phase. */
    REFUSED_PER_CLIENT
  }

  private final int maxPending;
  private final int maxPendingPerClient;
  private final AtomicInteger pending = new AtomicInteger();
  private final ConcurrentHashMap<InetAddress, Integer> pendingByClient = new ConcurrentHashMap<>();

  /**
   * @param maxPending connections in the first-request phase on this dispatcher, at least 1
   * @param maxPendingPerClient the same per client IP, 1..{@code maxPending}
   */
  public AdmissionControl(int maxPending, int maxPendingPerClient) {
    if (maxPending < 1)
      throw new IllegalArgumentException("maxPending must be >= 1: " + maxPending);
    if (maxPendingPerClient < 1 || maxPendingPerClient > maxPending) {
      throw new IllegalArgumentException(
          "maxPendingPerClient must be 1.." + maxPending + ": " + maxPendingPerClient);
    }
    this.maxPending = maxPending;
    this.maxPendingPerClient = maxPendingPerClient;
  }

  /**
   * Admits a new connection from {@code client} if both caps allow. The returned ticket says the
   * outcome; only an admitted ticket holds a place.
   */
  public Ticket tryAdmit(InetAddress client) {
    Objects.requireNonNull(client, "client");
    int n;
    do {
      n = pending.get();
      if (n >= maxPending) return new Ticket(client, Outcome.REFUSED_TOTAL);
    } while (!pending.compareAndSet(n, n + 1));
    boolean[] admitted = {false};
    pendingByClient.compute(
        client,
        (ip, count) -> {
          int c = count == null ? 0 : count;
          if (c >= maxPendingPerClient) return count;
          admitted[0] = true;
          return c + 1;
        });
    if (!admitted[0]) {
      pending.decrementAndGet();
      return new Ticket(client, Outcome.REFUSED_PER_CLIENT);
    }
    return new Ticket(client, Outcome.ADMITTED);
  }

  /** Connections in the first-request phase now. */
  public int pending() {
    return pending.get();
  }

  /** Connections from {@code client} in the first-request phase now. */
  public int pending(InetAddress client) {
    return pendingByClient.getOrDefault(client, 0);
  }

  /** Client addresses with at least one connection in the phase (bounded by {@code maxPending}). */
  public int clients() {
    return pendingByClient.size();
  }

  private void release(InetAddress client) {
    pendingByClient.computeIfPresent(client, (ip, count) -> count == 1 ? null : count - 1);
    pending.decrementAndGet();
  }

  /** One connection's place in the first-request phase, or the reason it got none. */
  public final class Ticket {
    private final InetAddress client;
    private final Outcome outcome;
    private final AtomicBoolean released;

    private Ticket(InetAddress client, Outcome outcome) {
      this.client = client;
      this.outcome = outcome;
      // A refused ticket holds nothing: it counts as released from the start.
      this.released = new AtomicBoolean(outcome != Outcome.ADMITTED);
    }

    public Outcome outcome() {
      return outcome;
    }

    public boolean admitted() {
      return outcome == Outcome.ADMITTED;
    }

    /** Gives the place back; only the first call on an admitted ticket has an effect. */
    public void release() {
      if (released.compareAndSet(false, true)) AdmissionControl.this.release(client);
    }
  }
}
