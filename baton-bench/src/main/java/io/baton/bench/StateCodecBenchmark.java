package io.baton.bench;

import io.baton.transplant.ConnectionState;
import io.baton.transplant.ConnectionStateCodec;
import io.baton.transplant.FlowKey;
import io.baton.transplant.StateFormatException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * {@link ConnectionStateCodec}: the wire form a dispatcher sends per handoff. {@code queueBytes} is
 * the size of each of the two queues: 100 B is a typical handoff (the request head in the receive
 * queue, a short send queue), 64 KiB a connection moved with a full socket buffer. Encoding
 * allocates and fills one array; decoding validates every field and copies both queues.
 *
 * <p>Each JMH worker thread has its own state.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class StateCodecBenchmark {
  @Param({"100", "65536"})
  public int queueBytes;

  private ConnectionState state;
  private byte[] encoded;

  @Setup
  public void setUp() throws StateFormatException {
    SplittableRandom random = new SplittableRandom(42);
    byte[] receiveQueue = new byte[queueBytes];
    byte[] sendQueue = new byte[queueBytes];
    random.nextBytes(receiveQueue);
    random.nextBytes(sendQueue);
    state =
        new ConnectionState(
            new FlowKey(ipv4("198.18.0.10"), 51234, ipv4("198.18.0.100"), 443),
            0x1234_5678,
            0x1234_5678 + 1 + 4096,
            0x8765_4321,
            0x8765_4321 + 1 + 812,
            new ConnectionState.Window(0x8765_4000, 64_240, 64_240, 65_535, 0x8765_4100),
            1448,
            new ConnectionState.TcpOptions(true, true, true, 7, 7),
            123_456_789,
            receiveQueue,
            queueBytes / 2,
            sendQueue,
            queueBytes / 4);
    encoded = ConnectionStateCodec.encode(state);
    // A benchmark of a codec that does not round-trip would measure the wrong thing.
    if (!ConnectionStateCodec.decode(encoded).equals(state)) {
      throw new IllegalStateException("codec does not round-trip " + state);
    }
  }

  @Benchmark
  public byte[] encode() {
    return ConnectionStateCodec.encode(state);
  }

  @Benchmark
  public ConnectionState decode() throws StateFormatException {
    return ConnectionStateCodec.decode(encoded);
  }

  static Inet4Address ipv4(String literal) {
    try {
      return (Inet4Address) InetAddress.getByName(literal);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IPv4 literal: " + literal, e);
    }
  }
}
