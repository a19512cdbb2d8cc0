package io.baton.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The admin endpoint's authentication and its answers for a node without the roles asked about. */
class AdminEndpointTest {
  private static final byte[] KEY = new byte[32];
  private AdminEndpoint admin;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeEach
  void start() throws Exception {
    admin =
        AdminEndpoint.start(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), KEY, "n1", null, null);
  }

  @AfterEach
  void stop() {
    admin.close();
  }

  private HttpResponse<String> call(String method, String path, String token) throws Exception {
    var b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.port() + path))
            .timeout(Duration.ofSeconds(5))
            .method(method, HttpRequest.BodyPublishers.noBody());
    if (token != null) b.header("Authorization", "Bearer " + token);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void everyRequestWithoutTheClusterKeysTokenIsRefused() throws Exception {
    assertThat(call("GET", "/v1/nodes", null).statusCode()).isEqualTo(401);
    assertThat(call("GET", "/v1/nodes", "00").statusCode()).isEqualTo(401);
    assertThat(
            call(
                    "GET",
                    "/v1/nodes",
                    AdminToken.of(
                        new byte[] {
                          1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                          22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
                        }))
                .statusCode())
        .as("another key's token")
        .isEqualTo(401);
    assertThat(call("POST", "/v1/drain?deadline-ms=1000", null).statusCode()).isEqualTo(401);
  }

  @Test
  void commandsAnswerWhatTheNodeCannotDo() throws Exception {
    String token = AdminToken.of(KEY);
    var nodes = call("GET", "/v1/nodes", token);
    assertThat(nodes.statusCode()).isEqualTo(200);
    assertThat(nodes.body()).contains("no sync plane");
    var connections = call("GET", "/v1/connections", token);
    assertThat(connections.statusCode()).isEqualTo(400);
    assertThat(connections.body()).contains("neither a server nor a dispatcher");
    var migrate = call("POST", "/v1/migrate?client=1.2.3.4:5&vip=198.18.0.100:80", token);
    assertThat(migrate.statusCode()).isEqualTo(400);
    assertThat(migrate.body()).contains("is not a server");
    assertThat(call("GET", "/v1/nope", token).statusCode()).isEqualTo(404);
  }
}
