package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Network namespaces are per thread: entering or unsharing one moves only the calling thread. */
@PrivateNamespace
class NetnsTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  @Test
  void enteringANamedNamespaceMovesOnlyThatThread() throws Exception {
    String root = Netns.current();
    assertThat(root).matches("net:\\[\\d+\\]");
    assertThat(ns.netnsId()).matches("net:\\[\\d+\\]").isNotEqualTo(root);
    assertThat(ns.call(Netns::current)).isEqualTo(ns.netnsId());
    // The thread's namespace is the one pinned at /run/netns/NAME (same inode).
    Object inode = Files.getAttribute(Netns.pathOf(ns.name()), "unix:ino");
    assertThat(ns.netnsId()).isEqualTo("net:[" + inode + "]");
    // The test thread and other threads stay in the root namespace.
    assertThat(Netns.current()).isEqualTo(root);
    assertThat(CompletableFuture.supplyAsync(Netns::current).get(30, TimeUnit.SECONDS))
        .isEqualTo(root);
  }

  @Test
  void socketsKeepTheNamespaceTheyWereMadeIn() throws Exception {
    // A listener made in the private namespace is unreachable from the root namespace.
    int listener = ns.call(() -> Loopback.listener(false));
    try {
      InetSocketAddress address = Sockets.localAddress(listener);
      int rootClient = Sockets.tcpSocket(false);
      try {
        // Nothing listens on that port in the root namespace (the bound port is chosen there).
        int holder = Sockets.tcpSocket(false);
        try {
          Sockets.bind(holder, address); // free in the root namespace: it is a different stack
        } catch (LinuxException e) {
          // Someone in the root namespace uses the same port; the point is moot then.
          Sockets.closeQuietly(holder);
          holder = -1;
        }
        if (holder >= 0) {
          assertThatThrownBy(() -> Sockets.connect(rootClient, address))
              .isInstanceOfSatisfying(
                  LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ECONNREFUSED));
          Sockets.close(holder);
        }
      } finally {
        Sockets.close(rootClient);
      }
      // From inside, the same address connects.
      ns.run(
          () -> {
            int client = Sockets.tcpSocket(false);
            try {
              assertThat(Sockets.connect(client, address)).isTrue();
              int server = Sockets.accept(listener, false);
              Sockets.close(server);
            } finally {
              Sockets.close(client);
            }
          });
    } finally {
      Sockets.close(listener);
    }
  }

  @Test
  void enteringAMissingNamespaceNamesThePath() {
    String name = "bt" + ProcessHandle.current().pid() + "xd00-door-missing";
    // A throwaway thread: a failed enter must leave it where it was, but do not risk the test
    // thread.
    Throwable t =
        CompletableFuture.supplyAsync(
                () -> {
                  String before = Netns.current();
                  try {
                    Netns.enter(Netns.pathOf(name));
                    return new AssertionError("entered a namespace that does not exist");
                  } catch (LinuxException e) {
                    return Netns.current().equals(before)
                        ? e
                        : new AssertionError("moved after a failure");
                  }
                })
            .join();
    assertThat(t)
        .isInstanceOf(LinuxException.class)
        .hasMessage("open(/run/netns/" + name + ") failed: No such file or directory (errno 2)");
  }

  @Test
  void unshareGivesTheThreadAFreshNamespaceWhereLoopbackIsDown() throws Exception {
    String root = Netns.current();
    CompletableFuture<Object[]> result = new CompletableFuture<>();
    // A dedicated thread that ends afterwards: its namespace goes away with it.
    Thread t =
        Thread.ofPlatform()
            .name("unshared")
            .start(
                () -> {
                  try {
                    Netns.unshareNet();
                    String mine = Netns.current();
                    Throwable connectFailure = null;
                    int listener = Loopback.listener(false);
                    int client = Sockets.tcpSocket(false);
                    try {
                      Sockets.connect(client, Sockets.localAddress(listener));
                    } catch (LinuxException e) {
                      connectFailure = e;
                    } finally {
                      Sockets.close(client);
                      Sockets.close(listener);
                    }
                    result.complete(new Object[] {mine, connectFailure});
                  } catch (Throwable e) {
                    result.completeExceptionally(e);
                  }
                });
    Object[] r = result.get(30, TimeUnit.SECONDS);
    t.join(30_000);
    assertThat((String) r[0])
        .matches("net:\\[\\d+\\]")
        .isNotEqualTo(root)
        .isNotEqualTo(ns.netnsId());
    // lo is down in a new namespace: 127.0.0.1 can be bound, but there is no route to it.
    assertThat((Throwable) r[1])
        .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(101))
        .hasMessageEndingWith(" failed: Network is unreachable (errno 101)")
        .hasMessageStartingWith("connect(127.0.0.1:");
    assertThat(Netns.current()).isEqualTo(root);
  }
}
