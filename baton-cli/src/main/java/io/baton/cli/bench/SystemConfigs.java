package io.baton.cli.bench;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The configuration files of the benchmarked systems, as text: nginx as origin server and as
 * reverse proxy, HAProxy, and Baton's node YAML. Every balancer gets one worker thread (it is
 * pinned to one CPU) and keeps connections to its servers alive where it can, as a tuned production
 * setup would. Stateless.
 */
final class SystemConfigs {
  /** Port of nginx on every server (127.0.0.1, front and fabric addresses). */
  static final int NGINX_PORT = 8080;

  /** Port of the standalone sample app (direct-app) on s1's front address. */
  static final int APP_PORT = 8090;

  static final int HANDOFF_PORT = 7400;

  private SystemConfigs() {}

  /** nginx as the origin: one worker, sendfile, long keep-alive, on loopback, front and fabric. */
  static String nginxServer(Path dir, Path root, String frontIp, String fabricIp) {
    return """
        worker_processes 1;
        daemon off;
        user root;
        pid %1$s/nginx.pid;
        error_log %1$s/error.log warn;
        events { worker_connections 8192; }
        http {
          access_log off;
        %3$s
          sendfile on;
          tcp_nopush on;
          keepalive_requests 1000000;
          default_type application/octet-stream;
          server {
            listen 127.0.0.1:%4$d reuseport;
            listen %5$s:%4$d;
            listen %6$s:%4$d;
            root %2$s;
          }
        }
        """
        .formatted(dir, root, tempPaths(dir), NGINX_PORT, frontIp, fabricIp);
  }

  /**
   * nginx as reverse proxy on the VIP as its experienced users run it: round-robin with a pool of
   * kept-alive upstream connections shared by all clients (HTTP/1.1 upstream, the client's {@code
   * Connection} header not passed on), responses buffered in memory only (no temporary files: a
   * full buffer makes nginx stream, as HAProxy does), enough file descriptors for its connections.
   */
  static String nginxProxy(Path dir, String vip, List<String> upstreams) {
    String servers =
        upstreams.stream()
            .map(a -> "    server " + a + ":" + NGINX_PORT + ";")
            .collect(Collectors.joining("\n"));
    return """
        worker_processes 1;
        worker_rlimit_nofile 16384;
        daemon off;
        user root;
        pid %1$s/nginx.pid;
        error_log %1$s/error.log warn;
        events { worker_connections 16384; }
        http {
          access_log off;
        %2$s
          keepalive_requests 1000000;
          upstream servers {
        %3$s
            keepalive 64;
            keepalive_requests 1000000;
          }
          server {
            listen %4$s:80;
            location / {
              proxy_pass http://servers;
              proxy_http_version 1.1;
              proxy_set_header Connection "";
              proxy_buffering on;
              proxy_buffer_size 16k;
              proxy_buffers 16 64k;
              proxy_busy_buffers_size 128k;
              proxy_max_temp_file_size 0;
            }
          }
        }
        """
        .formatted(dir, tempPaths(dir), servers, vip);
  }

  /**
   * HAProxy in HTTP mode on the VIP as its experienced users run it: one thread (it is pinned to
   * one CPU), round-robin, idle server connections shared by every client session ({@code
   * http-reuse always}: with {@code safe}, the first request of each session opens its own server
   * connection, so in close mode every request would pay a connect to the server and a reset),
   * bodies moved by the kernel with {@code splice}, and no logging. {@code option splice-auto}
   * alone never spliced here (HAProxy 2.6 in HTTP mode: {@code strace -c} of a 1 MiB close-mode run
   * showed no {@code splice} call, 2,300 µs of CPU 0 per request); {@code option splice-response}
   * forces it for responses (64,000 {@code splice} calls in 3 s, 930 µs per 1 MiB request, the same
   * ~75 µs per 1 KiB request), so both are set. {@code maxconn} stays at 4096 because HAProxy
   * raises its file limit to about 2.5 descriptors per connection (two sockets, splice pipes) and
   * refuses to start when the hard limit is lower (20,000 in the lab VM: {@code maxconn 20000}
   * asked for 50,014).
   */
  static String haproxy(String vip, List<String> upstreams) {
    StringBuilder servers = new StringBuilder();
    for (int i = 0; i < upstreams.size(); i++) {
      servers
          .append("  server s")
          .append(i + 1)
          .append(' ')
          .append(upstreams.get(i))
          .append(':')
          .append(NGINX_PORT)
          .append('\n');
    }
    return """
        global
          nbthread 1
          maxconn 4096

        defaults
          mode http
          option http-keep-alive
          option splice-auto
          option splice-response
          http-reuse always
          maxconn 4096
          timeout connect 5s
          timeout client 30s
          timeout server 30s
          timeout http-request 10s
          timeout http-keep-alive 30s

        frontend vip
          bind %s:80
          default_backend servers

        backend servers
          balance roundrobin
          http-reuse always
        %s"""
        .formatted(vip, servers);
  }

  /** Where the bench's dispatcher serves its metrics, inside lb's namespace. */
  static final String METRICS_LISTEN = "127.0.0.1:9400";

  /**
   * Baton's dispatcher on lb: one http VIP, round-robin over the servers' fabric addresses, and its
   * metrics (the harness reads the handoff counters around each run).
   */
  static String batonDispatcher(
      String key,
      String vip,
      String frontIp,
      String fabricIp,
      List<String> serverNames,
      List<String> serverFabricIps) {
    StringBuilder members = new StringBuilder();
    for (int i = 0; i < serverNames.size(); i++) {
      members
          .append("      - { node: ")
          .append(serverNames.get(i))
          .append(", fabric-address: ")
          .append(serverFabricIps.get(i))
          .append(" }\n");
    }
    return """
        node:
          name: lb
          roles: [dispatcher]
          interfaces:
            front:  { device: front,  address: %s }
            fabric: { device: fabric, address: %s }
        cluster:
          key: %s
          handoff-port: %d
        vips:
          - address: %s
            port: 80
            mode: http
            default-pool: servers
        pools:
          servers:
            balance: round-robin
            members:
        %smetrics:
          listen: %s
        """
        .formatted(frontIp, fabricIp, key, HANDOFF_PORT, vip, members, METRICS_LISTEN);
  }

  /**
   * A Baton server agent: relays to nginx on 127.0.0.1 when {@code embeddedRoot} is null, else runs
   * the sample app embedded on {@code embeddedRoot}.
   */
  static String batonServer(
      String name, String key, String vip, String fabricIp, Path embeddedRoot) {
    String delivery =
        embeddedRoot == null
            ? "{ vip: %s, port: 80, relay: 127.0.0.1:%d }".formatted(vip, NGINX_PORT)
            : "{ vip: %s, port: 80, embedded: { app: sample, root: %s } }"
                .formatted(vip, embeddedRoot);
    return """
        node:
          name: %s
          roles: [server]
          interfaces:
            fabric: { device: fabric, address: %s }
        cluster:
          key: %s
          handoff-port: %d
        server:
          apply-host-preparation: true
          deliveries:
            - %s
        """
        .formatted(name, fabricIp, key, HANDOFF_PORT, delivery);
  }

  private static String tempPaths(Path dir) {
    return """
          client_body_temp_path %1$s/body;
          proxy_temp_path %1$s/proxy;
          fastcgi_temp_path %1$s/fastcgi;
          uwsgi_temp_path %1$s/uwsgi;
          scgi_temp_path %1$s/scgi;"""
        .formatted(dir);
  }
}
