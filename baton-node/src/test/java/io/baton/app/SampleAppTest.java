package io.baton.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample application listening on its own (the "direct-app" baseline), driven by curl as a user
 * would, plus the few cases a raw client shows better.
 */
class SampleAppTest {
  private static final Path CURL = Path.of("/usr/bin/curl");
  @TempDir static Path dir;
  private static EventLoopGroup group;
  private static SampleFiles files;
  private static Channel listener;
  private static String base;

  @BeforeAll
  static void start() throws IOException {
    group = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    files = SampleFiles.create(dir, 20);
    listener =
        new SampleApp(files.root, "node-b").listen(group, new InetSocketAddress("127.0.0.1", 0));
    InetSocketAddress bound = (InetSocketAddress) listener.localAddress();
    base = "http://127.0.0.1:" + bound.getPort();
  }

  @AfterAll
  static void stop() {
    listener.close().syncUninterruptibly();
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** Runs curl with a deadline; returns stdout, after checking it exited 0. */
  private static String curl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(CURL.toString(), "-sS", "--max-time", "30"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    byte[] out;
    try (InputStream in = p.getInputStream()) {
      out = in.readAllBytes();
    }
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("curl finished").isTrue();
    String text = new String(out, StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as("curl exit; output: %s", text).isZero();
    return text;
  }

  private static String sha256(Path file) throws IOException {
    MessageDigest sha = RawHttpClient.sha256();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) sha.update(buf, 0, n);
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  /** {@code printf 'GET ...' | nc -N}: the request, then FIN; the whole answer, then FIN. */
  @Test
  void requestThenFinGetsTheWholeAnswerThenEndOfStream() throws Exception {
    InetSocketAddress bound = (InetSocketAddress) listener.localAddress();
    try (Socket s = new Socket(bound.getAddress(), bound.getPort())) {
      s.setSoTimeout(30_000);
      s.getOutputStream()
          .write("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      s.shutdownOutput();
      byte[] all = s.getInputStream().readAllBytes(); // to end of stream: a FIN, not a reset
      String text = new String(all, StandardCharsets.ISO_8859_1);
      int bodyAt = text.indexOf("\r\n\r\n") + 4;
      assertThat(text).startsWith("HTTP/1.1 200 OK\r\n");
      assertThat(all.length - bodyAt).isEqualTo(files.bigLength);
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(all, bodyAt, all.length - bodyAt);
      assertThat(HexFormat.of().formatHex(sha.digest())).isEqualTo(files.bigSha256);
    }
  }

  @Test
  void curlDownloadsALargeFileByteExact() throws Exception {
    Path got = dir.resolve("download.bin");
    String code =
        curl("-o", got.toString(), "-w", "%{http_code} %{content_type}", base + "/big.bin");
    assertThat(code).isEqualTo("200 application/octet-stream");
    assertThat(Files.size(got)).isEqualTo(files.bigLength);
    assertThat(sha256(got)).isEqualTo(files.bigSha256);
  }

  @Test
  void curlEchoesAnUploadWithExpectContinue() throws Exception {
    Path upload = dir.resolve("upload.bin");
    byte[] data = new byte[8 * 1024 * 1024];
    new Random(9).nextBytes(data);
    Files.write(upload, data);
    Path echoed = dir.resolve("echoed.bin");
    // curl sends "Expect: 100-continue" for a body this size.
    String code =
        curl(
            "--data-binary",
            "@" + upload,
            "-H",
            "Content-Type: application/octet-stream",
            "-o",
            echoed.toString(),
            "-w",
            "%{http_code}",
            base + "/echo");
    assertThat(code).isEqualTo("200");
    assertThat(sha256(echoed)).isEqualTo(sha256(upload));
  }

  @Test
  void curlReusesTheConnectionAndSeesWhoAnswered() throws Exception {
    String out =
        curl("-w", "[%{http_code} %{num_connects}]\n", base + "/whoami", base + "/hello.txt");
    assertThat(out).isEqualTo("node-b\n[200 1]\nhello\n[200 0]\n");
  }

  @Test
  void curlHttp10AndHeadAndRefusals() throws Exception {
    assertThat(curl("--http1.0", base + "/whoami")).isEqualTo("node-b\n");
    assertThat(curl("-I", base + "/hello.txt")).containsIgnoringCase("content-length: 6");
    assertThat(
            curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", base + "/../secret.txt"))
        .isEqualTo("403");
    assertThat(curl("-o", "/dev/null", "-w", "%{http_code}", base + "/no/such/file"))
        .isEqualTo("404");
    assertThat(curl("-X", "DELETE", "-o", "/dev/null", "-w", "%{http_code}", base + "/hello.txt"))
        .isEqualTo("405");
    String big = "X-Big: " + "b".repeat(SampleApp.MAX_HEADER_BYTES);
    assertThat(curl("-H", big, "-o", "/dev/null", "-w", "%{http_code}", base + "/hello.txt"))
        .isEqualTo("431");
  }

  @Test
  void rawClientPipelinesAcrossDirectConnection() throws Exception {
    InetSocketAddress a = (InetSocketAddress) listener.localAddress();
    try (RawHttpClient http = new RawHttpClient(new Socket(a.getAddress(), a.getPort()))) {
      http.send(
          "GET /whoami HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(http.read().text()).isEqualTo("node-b\n");
      assertThat(http.read().text()).isEqualTo(SampleFiles.INDEX);
    }
  }

  @Test
  void contentTypesAreGuessedFromTheName() {
    assertThat(StaticFiles.contentType(Path.of("a.HTML"))).isEqualTo("text/html; charset=utf-8");
    assertThat(StaticFiles.contentType(Path.of("b.png"))).isEqualTo("image/png");
    assertThat(StaticFiles.contentType(Path.of("noext"))).isEqualTo("application/octet-stream");
  }

  @Test
  void refusesARootThatIsNoDirectory() {
    assertThatThrownBy(() -> new SampleApp(dir.resolve("missing"), "n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a directory");
  }
}
