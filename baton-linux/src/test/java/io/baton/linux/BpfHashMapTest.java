package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * A real BPF hash map in this kernel: elements in, replaced, read back, out; wrong sizes refused.
 */
class BpfHashMapTest {
  private static byte[] fourTuple(int clientPort) {
    return NfSetElements.fourTupleKey(ip("198.18.0.10"), clientPort, ip("198.18.0.100"), 80);
  }

  private static java.net.Inet4Address ip(String text) {
    try {
      return (java.net.Inet4Address) java.net.InetAddress.getByName(text);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  @Test
  void elementsGoInAreReplacedReadBackAndGoOut() throws Exception {
    try (BpfHashMap map = BpfHashMap.create(16, 4, 1024)) {
      byte[] a = fourTuple(40000);
      byte[] b = fourTuple(40001);
      assertThat(map.get(a)).isEmpty();
      map.put(a, new byte[] {(byte) 198, 18, 1, 11});
      map.put(b, new byte[] {(byte) 198, 18, 1, 12});
      map.put(a, new byte[] {(byte) 198, 18, 1, 13}); // replaces
      assertThat(map.get(a))
          .hasValueSatisfying(v -> assertThat(v).containsExactly((byte) 198, 18, 1, 13));
      assertThat(map.get(b))
          .hasValueSatisfying(v -> assertThat(v).containsExactly((byte) 198, 18, 1, 12));
      assertThat(map.remove(a)).isTrue();
      assertThat(map.remove(a)).as("already gone").isFalse();
      assertThat(map.get(a)).isEmpty();
      assertThat(map.get(b)).isPresent();
    }
  }

  @Test
  void aFullMapAndWrongSizesAreClearErrors() throws Exception {
    try (BpfHashMap map = BpfHashMap.create(16, 4, 2)) {
      map.put(fourTuple(1), new byte[4]);
      map.put(fourTuple(2), new byte[4]);
      assertThatThrownBy(() -> map.put(fourTuple(3), new byte[4]))
          .isInstanceOf(LinuxException.class)
          .hasMessageContaining("BPF_MAP_UPDATE_ELEM");
      assertThatThrownBy(() -> map.put(new byte[15], new byte[4]))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("key must be 16 bytes");
    }
    assertThatThrownBy(() -> BpfHashMap.create(0, 4, 2))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Pinned on a bpf file system, a map outlives every descriptor of the process that made it; a
   * later opener checks its shape and reads every element back.
   */
  @Test
  void aPinnedMapOutlivesItsDescriptorAndIsReadBackWhole() throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("bt-bpffs");
    run("mount", "-t", "bpf", "bpf", dir.toString());
    try {
      java.nio.file.Path pin = dir.resolve("flows");
      try (BpfHashMap map = BpfHashMap.create(16, 4, 4096)) {
        for (int port = 1; port <= 1000; port++)
          map.put(fourTuple(port), new byte[] {(byte) 198, 18, 1, (byte) (port % 3)});
        map.pin(pin);
      }
      try (BpfHashMap again = BpfHashMap.openPinned(pin, 16, 4)) {
        java.util.BitSet ports = new java.util.BitSet();
        int[] wrong = {0};
        int n =
            again.forEach(
                (key, value) -> {
                  int port = (key[4] & 0xFF) << 8 | (key[5] & 0xFF);
                  ports.set(port);
                  if (value[3] != (byte) (port % 3)) wrong[0]++;
                });
        assertThat(n).isEqualTo(1000);
        assertThat(ports.cardinality()).isEqualTo(1000);
        assertThat(wrong[0]).isZero();
      }
      assertThatThrownBy(() -> BpfHashMap.openPinned(pin, 12, 4))
          .isInstanceOf(LinuxException.class)
          .hasMessageContaining("16-byte keys and 4-byte values, not a hash map of 12 and 4");
      assertThatThrownBy(() -> BpfHashMap.openPinned(dir.resolve("none"), 16, 4))
          .isInstanceOfSatisfying(
              LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
    } finally {
      run("umount", dir.toString());
      java.nio.file.Files.delete(dir);
    }
  }

  private static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
    }
  }
}
