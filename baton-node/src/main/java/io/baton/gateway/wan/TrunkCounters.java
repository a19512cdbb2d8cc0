package io.baton.gateway.wan;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * What a gateway's trunks did, for its metrics: streams, bytes each way, failures and refused
 * HELLOs. Written on the gateway's event loop, read by scrapes on any thread.
 */
public final class TrunkCounters {
  /** Streams opened on this gateway's trunks, both sides. */
  public final LongAdder streamsOpened = new LongAdder();

  /** Streams that ended by a reset (either side, or their trunk failing). */
  public final LongAdder streamsReset = new LongAdder();

  /** Streams open now. */
  public final AtomicInteger streamsOpen = new AtomicInteger();

  /** Bytes read from local sockets and sent over trunks. */
  public final LongAdder bytesToWan = new LongAdder();

  /** Bytes received over trunks and written to local sockets. */
  public final LongAdder bytesFromWan = new LongAdder();

  /** Trunks that failed (a connection closed, errored, went silent or was refused). */
  public final LongAdder trunkFailures = new LongAdder();

  /** Trunks up now, both sides. */
  public final AtomicInteger trunksUp = new AtomicInteger();

  /** Tunnel connections refused before their first stream frame (no, bad, stale HELLO). */
  public final LongAdder hellosRefused = new LongAdder();
}
