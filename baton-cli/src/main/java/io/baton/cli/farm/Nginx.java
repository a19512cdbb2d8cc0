package io.baton.cli.farm;

import io.baton.lab.Host;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Starts nginx inside a lab host as an unmodified upstream: plain HTTP on 127.0.0.1:8080 and TLS on
 * 127.0.0.1:8443 (the lab certificate), serving {@code root}. Its files (config, pid, logs, temp
 * dirs) live in the lab directory; the lab stops it on close.
 */
public final class Nginx {
  private Nginx() {}

  static Process start(Host host, Path labDir, String name, Path root, String directAddress)
      throws IOException, InterruptedException {
    Path dir = Files.createDirectories(labDir.resolve("nginx-" + name));
    String servers =
        """
          tcp_nopush on;
          keepalive_requests 100000;
          server {
            listen 127.0.0.1:8080 reuseport;
            listen %4$s:8080;
            root %1$s;
          }
          server {
            listen 127.0.0.1:8443 ssl;
            ssl_certificate %2$s;
            ssl_certificate_key %3$s;
            root %1$s;
          }
        """
            .formatted(
                root, labDir.resolve("tls-cert.pem"), labDir.resolve("tls-key.pem"), directAddress);
    return run(host, dir, "nginx on " + name, servers, 8080);
  }

  /**
   * Kills an nginx started here (SIGKILL) with its worker processes, which hold the listening
   * socket too. The master goes first: killed after its worker, it would fork a new one in the
   * meantime (it respawns a worker that dies), which would go on serving as an orphan.
   */
  public static void kill(Process master) throws InterruptedException {
    List<ProcessHandle> workers = master.descendants().toList();
    master.destroyForcibly();
    if (!master.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
      throw new IllegalStateException("nginx pid " + master.pid() + " survived SIGKILL");
    }
    for (ProcessHandle w : workers) w.destroyForcibly();
    for (ProcessHandle w : workers) w.onExit().join();
  }

  /** A plain nginx on 127.0.0.1:{@code port} serving {@code root}: one worker of a local pool. */
  public static Process startWorker(Host host, Path labDir, String name, Path root, int port)
      throws IOException, InterruptedException {
    Path dir = Files.createDirectories(labDir.resolve("nginx-" + name));
    return run(
        host,
        dir,
        "nginx " + name,
        "  server { listen 127.0.0.1:%d; root %s; }\n".formatted(port, root),
        port);
  }

  /**
   * Writes the config ({@code servers} inside its http block), starts nginx, waits for /whoami.txt
   * on {@code port}.
   */
  private static Process run(Host host, Path dir, String what, String servers, int port)
      throws IOException, InterruptedException {
    String conf =
        """
        worker_processes 1;
        daemon off;
        user root;
        pid %1$s/nginx.pid;
        error_log %1$s/error.log warn;
        events { worker_connections 4096; }
        http {
          access_log off;
          client_body_temp_path %1$s/body;
          proxy_temp_path %1$s/proxy;
          fastcgi_temp_path %1$s/fastcgi;
          uwsgi_temp_path %1$s/uwsgi;
          scgi_temp_path %1$s/scgi;
          sendfile on;
          default_type application/octet-stream;
        %2$s}
        """
            .formatted(dir, servers);
    Path file = dir.resolve("nginx.conf");
    Files.writeString(file, conf);
    Process p = host.start(List.of("nginx", "-c", file.toString()));
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (true) {
      var r =
          host.exec(
              "curl",
              "-s",
              "-o",
              "/dev/null",
              "-w",
              "%{http_code}",
              "http://127.0.0.1:" + port + "/whoami.txt");
      if (r.succeeded() && r.stdout().strip().equals("200")) return p;
      if (!p.isAlive()) {
        throw new IOException(
            what + " exited " + p.exitValue() + ": " + Files.readString(host.stderrOf(p)).strip());
      }
      if (System.nanoTime() > deadline) throw new IOException(what + " did not come up in 20 s");
      Thread.sleep(20); // polling interval of a deadline-bounded wait
    }
  }
}
