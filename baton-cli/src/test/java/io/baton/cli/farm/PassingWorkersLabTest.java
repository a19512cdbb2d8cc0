package io.baton.cli.farm;

import static io.baton.cli.farm.FarmChecks.ctl;
import static io.baton.cli.farm.FarmChecks.sha256;
import static io.baton.cli.farm.FarmChecks.whoAnswered;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Cooperating workers (issue 12): real {@code baton dispatcher|server --config} processes whose
 * port 80 passes each restored connection to a worker over its Unix socket (SCM_RIGHTS). Each
 * server runs two workers: the Java example ({@code io.baton.worker.example.FileWorker}) and the C
 * example ({@code baton-worker/src/main/c}, built here with cc). Clients are curl and a plain
 * socket; every body is checked by SHA-256.
 */
@Tag("lab")
class PassingWorkersLabTest {
  private static final String WORKERS =
      "workers: { balance: least-connections, members: ["
          + "{ name: java, socket: %1$s/{server}-java.sock }, { name: c, socket: %1$s/{server}-c.sock } ] }";
  private static final Path C_SOURCE =
      Path.of("..", "baton-worker", "src", "main", "c", "baton_file_worker.c");

  @Test
  void passedConnectionsServeByteExactDownloadsAndUploadsAndADeadWorkerCostsNewConnectionsNothing()
      throws Exception {
    Path socketDir = Files.createTempDirectory(Path.of("/tmp"), "baton-pass");
    try (ProcessFarm farm =
        new ProcessFarm(
            "passing", ProcessFarm.Options.DEFAULT.port80(WORKERS.formatted(socketDir)))) {
      Path cWorker = farm.lab.dir().resolve("baton_file_worker");
      CommandResult cc =
          farm.client.exec(
              List.of(
                  "cc",
                  "-O2",
                  "-Wall",
                  "-Wextra",
                  "-Werror",
                  "-pthread",
                  "-o",
                  cWorker.toString(),
                  C_SOURCE.toAbsolutePath().normalize().toString()),
              Duration.ofSeconds(60));
      assertThat(cc.exitCode()).as("building the C worker: " + cc.stderr()).isZero();
      Map<String, Process> workers = new HashMap<>();
      Map<String, Path> roots = new HashMap<>();
      for (String s : ProcessFarm.SERVERS) {
        Host host = farm.hosts.get(s);
        for (String kind : List.of("java", "c")) {
          String name = s + "-" + kind;
          Path root = Files.createDirectories(farm.lab.dir().resolve("www-" + name));
          Files.writeString(root.resolve("whoami.txt"), name + "\n");
          Files.createLink(root.resolve("big.bin"), farm.bigFile);
          roots.put(name, root);
          Path socket = socketDir.resolve(name + ".sock");
          List<String> command =
              kind.equals("c")
                  ? List.of(cWorker.toString(), socket.toString(), root.toString(), name)
                  : List.of(
                      Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                      "-Xmx128m",
                      "--enable-native-access=ALL-UNNAMED",
                      "-cp",
                      System.getProperty("java.class.path"),
                      "io.baton.worker.example.FileWorker",
                      socket.toString(),
                      root.toString(),
                      name);
          workers.put(name, host.start(command));
          ProcessLab.awaitTrue(
              () -> Files.exists(socket), Duration.ofSeconds(30), name + "'s socket");
        }
      }
      farm.startAll();

      // 1. New connections spread over both workers of each server.
      Map<String, Integer> seen = whoAnswered(farm, 40, ProcessFarm.VIP);
      assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(40);
      assertThat(seen)
          .as("every worker got connections: " + seen)
          .containsKeys("s1-java", "s1-c", "s2-java", "s2-c");

      // 2. Each kind alone (the other drained on both servers): a 100 MiB download and a 50 MiB
      //    upload whose first 256 KiB were sent with the head, so they sat in the receive queue
      //    when the connection was handed off and then passed.
      String bigSha = sha256(farm.bigFile);
      Path upload = farm.lab.dir().resolve("upload.bin");
      Farm.writeRandomFile(upload, 50 << 20);
      String uploadSha = sha256(upload);
      for (String kind : List.of("java", "c")) {
        String other = kind.equals("java") ? "c" : "java";
        for (String s : ProcessFarm.SERVERS) ctl(farm, s, "workers", other, "drain");
        Path out = farm.lab.dir().resolve("download-" + kind + ".bin");
        CommandResult get =
            farm.client.exec(
                List.of(
                    "curl",
                    "-sS",
                    "-f",
                    "-m",
                    "60",
                    "-D",
                    "-",
                    "-o",
                    out.toString(),
                    ProcessFarm.url("/big.bin")),
                Duration.ofSeconds(70));
        assertThat(get.exitCode()).as(get.stderr()).isZero();
        assertThat(get.stdout()).containsPattern("X-Worker: s[12]-" + kind);
        assertThat(sha256(out))
            .as("the download through the " + kind + " worker")
            .isEqualTo(bigSha);

        String name = "up-" + kind + ".bin";
        String answer = farm.client.call(() -> put(upload, name));
        assertThat(answer)
            .startsWith("HTTP/1.1 201")
            .contains("stored " + (50 << 20) + " bytes")
            .containsPattern("X-Worker: s[12]-" + kind);
        String server = answer.contains("X-Worker: s1-") ? "s1" : "s2";
        assertThat(sha256(roots.get(server + "-" + kind).resolve("uploads").resolve(name)))
            .as("the upload through the " + kind + " worker")
            .isEqualTo(uploadSha);
        for (String s : ProcessFarm.SERVERS) ctl(farm, s, "workers", other, "undrain");
      }

      // 3. Every passed connection's end reached the agent: nothing is left active.
      for (String s : ProcessFarm.SERVERS) {
        ProcessLab.awaitTrue(
            () ->
                ctl(farm, s, "workers")
                    .stdout()
                    .lines()
                    .filter(l -> l.contains(".sock"))
                    .allMatch(l -> l.matches(".*\\bup\\s+0\\s+\\d+\\s+\\d+\\s*$")),
            // Each look is a ctl process (a JVM: seconds on a loaded host).
            Duration.ofSeconds(30),
            s
                + "'s workers to report every connection closed: "
                + ctl(farm, s, "workers").stdout());
      }

      // 4. s1's C worker killed while it serves a slow download: that download fails fast (the
      //    socket dies with its process), and new connections go to s1's Java worker, none failing.
      for (String s : ProcessFarm.SERVERS) ctl(farm, s, "workers", "java", "drain");
      Process slow =
          farm.client.start(
              List.of(
                  "curl",
                  "-sS",
                  "-f",
                  "-m",
                  "60",
                  "--limit-rate",
                  "2M",
                  "-o",
                  "/dev/null",
                  "-D",
                  farm.lab.dir().resolve("slow.headers").toString(),
                  ProcessFarm.url("/big.bin")));
      Path headers = farm.lab.dir().resolve("slow.headers");
      ProcessLab.awaitTrue(
          () -> Files.exists(headers) && Files.readString(headers).contains("X-Worker"),
          Duration.ofSeconds(10),
          "the slow download to start");
      String slowServer = Files.readString(headers).contains("s1-c") ? "s1" : "s2";
      Process dead = workers.get(slowServer + "-c");
      dead.destroyForcibly();
      assertThat(dead.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(slow.waitFor(10, TimeUnit.SECONDS))
          .as("the killed worker's download ends at once")
          .isTrue();
      assertThat(slow.exitValue())
          .as("a cut download is an error, never a clean short body")
          .isNotZero();
      for (String s : ProcessFarm.SERVERS) ctl(farm, s, "workers", "java", "undrain");
      seen = whoAnswered(farm, 40, ProcessFarm.VIP);
      assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(40);
      assertThat(seen).doesNotContainKey(slowServer + "-c").containsKey(slowServer + "-java");
      assertThat(ctl(farm, slowServer, "workers").stdout())
          .containsPattern("c\\s+\\S+-c\\.sock\\s+1 down");
    } finally {
      try (var files = Files.list(socketDir)) {
        for (Path p : files.toList()) Files.deleteIfExists(p);
      }
      Files.deleteIfExists(socketDir);
    }
  }

  /**
   * PUT /upload/NAME with the head and the first 256 KiB in one write, the rest after; the answer.
   */
  private static String put(Path file, String name) throws Exception {
    byte[] body = Files.readAllBytes(file);
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(ProcessFarm.VIP, 80), 5_000);
      s.setSoTimeout(60_000);
      byte[] head =
          ("PUT /upload/"
                  + name
                  + " HTTP/1.1\r\nHost: vip\r\nContent-Length: "
                  + body.length
                  + "\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII);
      int first = 256 * 1024;
      byte[] opening = new byte[head.length + first];
      System.arraycopy(head, 0, opening, 0, head.length);
      System.arraycopy(body, 0, opening, head.length, first);
      OutputStream out = s.getOutputStream();
      out.write(opening);
      out.write(body, first, body.length - first);
      out.flush();
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    }
  }
}
