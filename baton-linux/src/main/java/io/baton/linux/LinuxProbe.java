package io.baton.linux;

import java.util.ArrayList;
import java.util.List;

/**
 * Checks, without changing anything, that this host can run Baton's data plane: native access
 * enabled, TCP repair permitted (CAP_NET_ADMIN), libnftables present. Each problem comes with a
 * one-line remedy.
 *
 * <p>Thread-safe.
 */
public final class LinuxProbe {
  private LinuxProbe() {}

  /** Problems found, empty when the host is ready. */
  public static List<String> problems() {
    List<String> problems = new ArrayList<>();
    if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
      problems.add("Baton needs Linux; this is " + System.getProperty("os.name"));
      return problems;
    }
    try {
      int fd = Sockets.tcpSocket(false);
      try {
        TcpRepair.on(fd);
        TcpRepair.off(fd, false);
      } catch (LinuxException e) {
        problems.add(
            "TCP repair is not permitted ("
                + e.getMessage()
                + "): run Baton as root or with CAP_NET_ADMIN");
      } finally {
        Sockets.closeQuietly(fd);
      }
    } catch (IllegalCallerException e) {
      problems.add("native access is disabled: run java with --enable-native-access=ALL-UNNAMED");
    } catch (LinuxException e) {
      problems.add("cannot create a TCP socket: " + e.getMessage());
    }
    if (!Nftables.isAvailable()) {
      problems.add(
          "libnftables is missing (apt-get install libnftables1): "
              + Nftables.unavailabilityCause().map(Throwable::getMessage).orElse("?"));
    }
    return problems;
  }

  public static boolean isAvailable() {
    return problems().isEmpty();
  }
}
