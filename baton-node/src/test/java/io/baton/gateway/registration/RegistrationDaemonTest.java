package io.baton.gateway.registration;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The daemon on loopback with a fixed clock: seals, replays, bad fields, listing, withdrawal. */
class RegistrationDaemonTest {
  private static final byte[] KEY = new byte[32];
  private final Clock clock = Clock.fixed(Instant.parse("2026-11-30T10:00:00Z"), ZoneOffset.UTC);
  private final List<List<Registration>> changes = new ArrayList<>();
  private RegistrationTable table;
  private RegistrationDaemon daemon;
  private final RegistrationSeal seal = new RegistrationSeal(KEY);
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    table = new RegistrationTable(clock, changes::add);
    daemon =
        new RegistrationDaemon(
            new InetSocketAddress("127.0.0.1", 0),
            table,
            seal,
            clock,
            Duration.ofHours(1),
            () -> Set.of("cubic", "bbr"),
            List::of);
  }

  @AfterEach
  void stop() {
    daemon.close();
    http.close();
  }

  private HttpResponse<String> send(
      String method, String path, String body, long issuedAt, String sealText) throws Exception {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + daemon.address().getPort() + path))
            .method(method, HttpRequest.BodyPublishers.ofByteArray(bytes));
    if (sealText != null) {
      b.header(RegistrationSeal.ISSUED_AT, Long.toString(issuedAt))
          .header(RegistrationSeal.SEAL, sealText);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> sealed(String method, String path, String body) throws Exception {
    long now = clock.millis();
    return send(
        method,
        path,
        body,
        now,
        seal.seal(method, path, now, body.getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void aSealedRegistrationIsTabledListedAndWithdrawn() throws Exception {
    String body =
        "{\"remote\":\"198.18.7.10\",\"ports\":[80],\"peer\":\"198.18.6.1:7600\",\"connections\":8}";
    HttpResponse<String> r = sealed("POST", "/v1/registrations", body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(table.lookup(InetAddress.getByName("198.18.7.10"), 80))
        .isPresent()
        .get()
        .satisfies(reg -> assertThat(reg.params().connections()).isEqualTo(8))
        .satisfies(reg -> assertThat(reg.params().congestionControl()).isEqualTo("bbr"));
    assertThat(table.lookup(InetAddress.getByName("198.18.7.10"), 81)).isEmpty();
    assertThat(changes).hasSize(1);
    assertThat(sealed("GET", "/v1/registrations", "").body()).contains("198.18.7.10");
    assertThat(sealed("DELETE", "/v1/registrations/198.18.7.10", "").statusCode()).isEqualTo(200);
    assertThat(table.list()).isEmpty();
  }

  @Test
  void badSealsStaleAndReplayedRequestsAreRefused() throws Exception {
    String body = "{\"remote\":\"198.18.7.10\",\"ports\":[80],\"peer\":\"198.18.6.1:7600\"}";
    long now = clock.millis();
    assertThat(send("POST", "/v1/registrations", body, now, null).body()).contains("not sealed");
    assertThat(send("POST", "/v1/registrations", body, now, "00".repeat(32)).body())
        .contains("bad seal");
    long old = now - 120_000;
    String oldSeal =
        seal.seal("POST", "/v1/registrations", old, body.getBytes(StandardCharsets.UTF_8));
    assertThat(send("POST", "/v1/registrations", body, old, oldSeal).body())
        .contains("ms from this gateway's clock");
    String good =
        seal.seal("POST", "/v1/registrations", now, body.getBytes(StandardCharsets.UTF_8));
    assertThat(send("POST", "/v1/registrations", body, now, good).statusCode()).isEqualTo(200);
    HttpResponse<String> replay = send("POST", "/v1/registrations", body, now, good);
    assertThat(replay.statusCode()).isEqualTo(401);
    assertThat(replay.body()).contains("replayed");
  }

  @Test
  void badFieldsAreNamed() throws Exception {
    assertThat(
            sealed(
                    "POST",
                    "/v1/registrations",
                    "{\"remote\":\"x\",\"ports\":[80],\"peer\":\"1.2.3.4:1\"}")
                .body())
        .contains("remote: 'x' is not an IPv4 address");
    assertThat(
            sealed(
                    "POST",
                    "/v1/registrations",
                    "{\"remote\":\"1.2.3.4\",\"ports\":[80],\"peer\":\"1.2.3.4:1\",\"congestionControl\":\"vegas\"}")
                .body())
        .contains("congestionControl: 'vegas' is not available");
    assertThat(
            sealed(
                    "POST",
                    "/v1/registrations",
                    "{\"remote\":\"1.2.3.4\",\"ports\":[80],\"peer\":\"1.2.3.4:1\",\"ttlSeconds\":99999}")
                .body())
        .contains("ttlSeconds: must be 1 to 3600");
    assertThat(
            sealed("POST", "/v1/registrations", "{\"remote\":\"1.2.3.4\",\"portz\":[80]}").body())
        .contains("not a registration");
    assertThat(table.list()).isEmpty();
  }
}
