package io.baton.gateway.registration;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registration daemon: HTTP with JSON on the gateway's registration address.
 *
 * <pre>
 * POST   /v1/registrations          register or renew (body: {@link RegistrationRequest})
 * DELETE /v1/registrations/ADDRESS  withdraw
 * GET    /v1/registrations          the proxy registration table
 * GET    /v1/streams                the port conversion table (the connections carried now)
 * </pre>
 *
 * Every request is sealed ({@link RegistrationSeal}); a missing, wrong, stale or replayed seal gets
 * 401 with the reason, a bad field 400 naming the field. Bodies over 16 KiB are refused.
 *
 * <p>Thread-safe; requests are served one at a time on the daemon's own thread.
 */
public final class RegistrationDaemon implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RegistrationDaemon.class);
  private static final int MAX_BODY_BYTES = 16 * 1024;
  static final String REGISTRATIONS = "/v1/registrations";
  static final String STREAMS = "/v1/streams";

  private final HttpServer server;
  private final ExecutorService executor;
  private final RegistrationTable table;
  private final RegistrationSeal seal;
  private final Clock clock;
  private final Duration maxTtl;
  private final Supplier<Set<String>> congestionControl;
  private final Supplier<List<Map<String, Object>>> streams;
  private final ObjectMapper json =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /** Seals seen within the skew window, by expiry: a replayed request is refused. */
  private final Map<String, Long> seen = new LinkedHashMap<>();

  public RegistrationDaemon(
      InetSocketAddress listen,
      RegistrationTable table,
      RegistrationSeal seal,
      Clock clock,
      Duration maxTtl,
      Supplier<Set<String>> congestionControl,
      Supplier<List<Map<String, Object>>> streams)
      throws IOException {
    this.table = table;
    this.seal = seal;
    this.clock = clock;
    this.maxTtl = maxTtl;
    this.congestionControl = congestionControl;
    this.streams = streams;
    try {
      this.server = HttpServer.create(listen, 64);
    } catch (IOException e) {
      throw new IOException(
          "registration daemon cannot listen on "
              + listen.getAddress().getHostAddress()
              + ":"
              + listen.getPort()
              + ": "
              + e.getMessage()
              + " (is the address on this host, the port free?)",
          e);
    }
    this.executor =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "baton-registration");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(executor);
    server.createContext("/", this::serve);
    server.start();
  }

  public InetSocketAddress address() {
    return server.getAddress();
  }

  private void serve(HttpExchange exchange) throws IOException {
    try {
      String method = exchange.getRequestMethod();
      String path = exchange.getRequestURI().getRawPath();
      byte[] body = readBody(exchange);
      if (body == null) {
        answer(exchange, 413, Map.of("error", "body over " + MAX_BODY_BYTES + " bytes"));
        return;
      }
      String refusal = authenticate(exchange, method, path, body);
      if (refusal != null) {
        LOG.warn(
            "registration request {} {} from {} refused: {}",
            method,
            path,
            exchange.getRemoteAddress(),
            refusal);
        answer(exchange, 401, Map.of("error", refusal));
        return;
      }
      if (path.equals(REGISTRATIONS) && method.equals("POST")) {
        register(exchange, body);
      } else if (path.equals(REGISTRATIONS) && method.equals("GET")) {
        answer(
            exchange,
            200,
            Map.of(
                "registrations", table.list().stream().map(RegistrationDaemon::describe).toList()));
      } else if (path.startsWith(REGISTRATIONS + "/") && method.equals("DELETE")) {
        String address = path.substring(REGISTRATIONS.length() + 1);
        try {
          boolean removed = table.remove(InetAddress.getByName(address)).isPresent();
          answer(exchange, removed ? 200 : 404, Map.of("remote", address, "removed", removed));
        } catch (java.net.UnknownHostException e) {
          answer(exchange, 400, Map.of("error", "'" + address + "' is not an address"));
        }
      } else if (path.equals(STREAMS) && method.equals("GET")) {
        answer(exchange, 200, Map.of("streams", streams.get()));
      } else {
        answer(exchange, 404, Map.of("error", "no " + method + " " + path));
      }
    } catch (RuntimeException e) {
      LOG.error("registration daemon failed on a request", e);
      try {
        answer(exchange, 500, Map.of("error", "the gateway failed: " + e.getMessage()));
      } catch (IOException | RuntimeException ignored) {
        // The answer may have started already; the connection closes.
      }
    } finally {
      exchange.close();
    }
  }

  private void register(HttpExchange exchange, byte[] body) throws IOException {
    RegistrationRequest request;
    try {
      request = json.readValue(body, RegistrationRequest.class);
    } catch (IOException e) {
      answer(
          exchange,
          400,
          Map.of(
              "error",
              "not a registration: "
                  + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                      ? j.getOriginalMessage()
                      : e.getMessage())));
      return;
    }
    String from = exchange.getRemoteAddress().getAddress().getHostAddress();
    Registration registration;
    try {
      registration = request.toRegistration(clock.instant(), maxTtl, congestionControl.get(), from);
    } catch (RegistrationRequest.InvalidRegistration e) {
      answer(exchange, 400, Map.of("error", e.getMessage()));
      return;
    }
    boolean renewed = table.put(registration).isPresent();
    LOG.info(
        "{} {} ports {} via {} ({}, {}) until {}, from {}",
        renewed ? "renewed" : "registered",
        registration.remote().getHostAddress(),
        registration.ports(),
        registration.peer(),
        registration.qos(),
        registration.params(),
        registration.expiresAt(),
        from);
    Map<String, Object> answer = describe(registration);
    answer.put("renewed", renewed);
    answer(exchange, 200, answer);
  }

  /** Null if the request's seal is good, fresh and new; else why not. */
  private String authenticate(HttpExchange exchange, String method, String path, byte[] body) {
    String issued = exchange.getRequestHeaders().getFirst(RegistrationSeal.ISSUED_AT);
    String given = exchange.getRequestHeaders().getFirst(RegistrationSeal.SEAL);
    if (issued == null || given == null) {
      return "not sealed (headers "
          + RegistrationSeal.ISSUED_AT
          + " and "
          + RegistrationSeal.SEAL
          + ")";
    }
    long issuedAt;
    try {
      issuedAt = Long.parseLong(issued);
    } catch (NumberFormatException e) {
      return RegistrationSeal.ISSUED_AT + " is not a number";
    }
    if (!seal.verify(method, path, issuedAt, body, given)) return "bad seal (another key?)";
    long now = clock.millis();
    if (Math.abs(now - issuedAt) > RegistrationSeal.MAX_SKEW_MS) {
      return "issued "
          + (now - issuedAt)
          + " ms from this gateway's clock (at most "
          + RegistrationSeal.MAX_SKEW_MS
          + ")";
    }
    seen.values().removeIf(expiry -> expiry < now);
    if (seen.putIfAbsent(given, now + 2 * RegistrationSeal.MAX_SKEW_MS) != null)
      return "replayed request";
    return null;
  }

  static Map<String, Object> describe(Registration r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("remote", r.remote().getHostAddress());
    m.put("ports", r.ports());
    m.put("peer", r.peer().getAddress().getHostAddress() + ":" + r.peer().getPort());
    m.put("qos", r.qos().name());
    m.put("connections", r.params().connections());
    m.put("congestionControl", r.params().congestionControl());
    m.put("windowBytes", r.params().windowBytes());
    m.put("rateBitsPerSecond", r.params().pacingBytesPerSecond() * 8);
    m.put("dscp", r.params().dscp());
    m.put("expiresAt", r.expiresAt().toString());
    m.put("registeredFrom", r.registeredFrom());
    return m;
  }

  private static byte[] readBody(HttpExchange exchange) throws IOException {
    try (InputStream in = exchange.getRequestBody()) {
      byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
      return body.length > MAX_BODY_BYTES ? null : body;
    }
  }

  private void answer(HttpExchange exchange, int status, Map<String, ?> body) throws IOException {
    byte[] bytes =
        json.writerWithDefaultPrettyPrinter()
            .writeValueAsString(body)
            .concat("\n")
            .getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    exchange.getResponseBody().write(bytes);
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
