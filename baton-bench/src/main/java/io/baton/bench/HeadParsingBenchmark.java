package io.baton.bench;

import io.baton.routing.ClientHelloParser;
import io.baton.routing.HttpHeadParser;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What the dispatcher reads before it can route a connection: the head of a browser's first HTTP
 * request ({@link HttpHeadParser}) or a TLS ClientHello ({@link ClientHelloParser}), each arriving
 * in one chunk, with a fresh parser per connection as the dispatcher uses them.
 *
 * <p>The ClientHello is the JDK's own TLS client's first flight with SNI set (an {@link SSLEngine}
 * in client mode, one {@code wrap()}, no network): TLS 1.3 and 1.2 offered, key shares included, so
 * about the size a browser sends.
 *
 * <p>Each JMH worker thread has its own state.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class HeadParsingBenchmark {
  /** A Firefox GET for a script, as it arrives on a fresh connection: 493 bytes. */
  static final String BROWSER_GET =
      "GET /static/js/app.3f9a1c.js?v=2 HTTP/1.1\r\n"
          + "Host: www.example.com\r\n"
          + "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101"
          + " Firefox/128.0\r\n"
          + "Accept: */*\r\n"
          + "Accept-Language: en-US,en;q=0.5\r\n"
          + "Accept-Encoding: gzip, deflate, br, zstd\r\n"
          + "Referer: https://www.example.com/account/orders\r\n"
          + "DNT: 1\r\n"
          + "Connection: keep-alive\r\n"
          + "Cookie: session=6f1c2e9a8b7d4c3e; theme=dark; consent=1; _ga=GA1.2.1234567.89\r\n"
          + "Sec-Fetch-Dest: script\r\n"
          + "Sec-Fetch-Mode: no-cors\r\n"
          + "Sec-Fetch-Site: same-origin\r\n"
          + "Priority: u=2\r\n"
          + "\r\n";

  static final String SERVER_NAME = "www.example.com";

  private byte[] httpHead;
  private byte[] clientHello;

  @Setup
  public void setUp() throws GeneralSecurityException, SSLException {
    httpHead = BROWSER_GET.getBytes(StandardCharsets.US_ASCII);
    clientHello = jdkClientHello(SERVER_NAME);
    // Refuse to measure a path the dispatcher would not take.
    if (!(new HttpHeadParser().offer(httpHead) instanceof HttpHeadParser.Complete c)
        || c.headLength() != httpHead.length) {
      throw new IllegalStateException("browser GET head does not parse completely");
    }
    if (!(new ClientHelloParser().offer(clientHello) instanceof ClientHelloParser.Complete h)
        || !h.sni().orElse("").equals(SERVER_NAME)) {
      throw new IllegalStateException("JDK ClientHello does not parse to SNI " + SERVER_NAME);
    }
  }

  @Benchmark
  public HttpHeadParser.Result httpHead() {
    return new HttpHeadParser().offer(ByteBuffer.wrap(httpHead));
  }

  @Benchmark
  public ClientHelloParser.Result clientHello() {
    return new ClientHelloParser().offer(ByteBuffer.wrap(clientHello));
  }

  /** The JDK TLS client's first flight: one handshake record holding its ClientHello. */
  static byte[] jdkClientHello(String serverName) throws GeneralSecurityException, SSLException {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, null, null);
    SSLEngine engine = context.createSSLEngine(serverName, 443);
    engine.setUseClientMode(true);
    SSLParameters parameters = engine.getSSLParameters();
    parameters.setServerNames(List.of(new SNIHostName(serverName)));
    engine.setSSLParameters(parameters);
    ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
    engine.wrap(ByteBuffer.allocate(0), out);
    out.flip();
    byte[] bytes = new byte[out.remaining()];
    out.get(bytes);
    return bytes;
  }
}
