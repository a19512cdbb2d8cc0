package io.baton.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SyncCodecTest {
  static final byte[] KEY = "0123456789abcdef0123456789abcdef".getBytes();
  static final byte[] OTHER_KEY = "fedcba9876543210fedcba9876543210".getBytes();

  static NodeReport report(String node, long sequence) throws Exception {
    return new NodeReport(
        node,
        "server",
        (Inet4Address) InetAddress.getByName("198.18.1.11"),
        1700000000000L,
        sequence,
        42,
        1000,
        317,
        true,
        "ok",
        false);
  }

  @Test
  void aReportSurvivesTheRoundTrip() throws Exception {
    SyncCodec codec = new SyncCodec(SyncKeys.derive(KEY));
    NodeReport r =
        new NodeReport(
            "s-ü",
            "dispatcher+server",
            (Inet4Address) InetAddress.getByName("198.18.1.12"),
            5,
            9,
            0,
            3,
            1000,
            false,
            "tcp 127.0.0.1:8080: connection refused",
            true,
            java.util.List.of(
                new java.net.InetSocketAddress("198.18.0.100", 80),
                new java.net.InetSocketAddress("198.18.0.100", 443)));
    byte[] bytes = codec.encode(r);
    assertThat(bytes.length).isLessThan(SyncCodec.MAX_REPORT_BYTES);
    assertThat(codec.decodeReport(bytes, 0, bytes.length)).isEqualTo(r);
    byte[] framed = new byte[bytes.length + 7];
    System.arraycopy(bytes, 0, framed, 3, bytes.length);
    assertThat(new SyncCodec(SyncKeys.derive(KEY)).decodeReport(framed, 3, bytes.length))
        .isEqualTo(r);
  }

  @Test
  void aReportSealedWithAnotherKeyIsRefused() throws Exception {
    byte[] forged = new SyncCodec(SyncKeys.derive(OTHER_KEY)).encode(report("s1", 1));
    assertThatThrownBy(
            () -> new SyncCodec(SyncKeys.derive(KEY)).decodeReport(forged, 0, forged.length))
        .isInstanceOf(SyncCodec.RejectedException.class)
        .hasMessageContaining("bad seal");
  }

  @Test
  void everyChangedByteIsNoticed() throws Exception {
    SyncCodec codec = new SyncCodec(SyncKeys.derive(KEY));
    byte[] good = codec.encode(report("s1", 1));
    for (int i = 0; i < good.length; i++) {
      byte[] bad = good.clone();
      bad[i] ^= 0x01;
      int at = i;
      assertThatThrownBy(() -> codec.decodeReport(bad, 0, bad.length))
          .as("byte %d changed", at)
          .isInstanceOf(SyncCodec.RejectedException.class);
    }
  }

  @Test
  void truncatedOversizedAndForeignMessagesAreRefused() throws Exception {
    SyncCodec codec = new SyncCodec(SyncKeys.derive(KEY));
    byte[] good = codec.encode(report("s1", 1));
    for (int n = 0; n < good.length; n++) {
      byte[] cut = Arrays.copyOf(good, n);
      assertThatThrownBy(() -> codec.decodeReport(cut, 0, cut.length))
          .isInstanceOf(SyncCodec.RejectedException.class);
    }
    byte[] huge = new byte[SyncCodec.MAX_BYTES + 1];
    assertThatThrownBy(() -> codec.decodeReport(huge, 0, huge.length))
        .hasMessageContaining("bytes, got");
    byte[] text =
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789012345678901234567890123456789".getBytes();
    assertThatThrownBy(() -> codec.decodeReport(text, 0, text.length))
        .hasMessageContaining("bad magic");
  }

  @Test
  void anOwnershipUpdateSurvivesTheRoundTripAndItsSealIsChecked() throws Exception {
    SyncCodec codec = new SyncCodec(SyncKeys.derive(KEY));
    java.util.List<OwnershipUpdate.Change> changes = new java.util.ArrayList<>();
    for (int i = 0; i < OwnershipUpdate.MAX_CHANGES; i++) {
      var flow =
          new io.baton.transplant.FlowKey(
              (Inet4Address) InetAddress.getByName("198.18.0." + (i % 200 + 10)),
              1024 + i * 31 % 64000,
              (Inet4Address) InetAddress.getByName("198.18.0.100"),
              i % 2 == 0 ? 80 : 65535);
      changes.add(new OwnershipUpdate.Change(i % 3 != 0, flow, 1L << 40 | i));
    }
    OwnershipUpdate u =
        new OwnershipUpdate(
            "s1", (Inet4Address) InetAddress.getByName("198.18.1.11"), 7, 8, changes);
    byte[] bytes = codec.encode(u);
    assertThat(bytes.length).isLessThanOrEqualTo(SyncCodec.MAX_BYTES);
    assertThat(codec.decode(bytes, 0, bytes.length)).isEqualTo(u);
    byte[] forged = new SyncCodec(SyncKeys.derive(OTHER_KEY)).encode(u);
    assertThatThrownBy(() -> codec.decode(forged, 0, forged.length))
        .hasMessageContaining("bad seal");
    bytes[40] ^= 1;
    byte[] changed = bytes;
    assertThatThrownBy(() -> codec.decode(changed, 0, changed.length))
        .hasMessageContaining("bad seal");
    assertThatThrownBy(() -> codec.decodeReport(forged, 0, forged.length))
        .isInstanceOf(SyncCodec.RejectedException.class);
  }

  @Test
  void longHealthTextIsCutAtACharacterBoundary() throws Exception {
    SyncCodec codec = new SyncCodec(SyncKeys.derive(KEY));
    NodeReport r =
        new NodeReport(
            "s1",
            "server",
            (Inet4Address) InetAddress.getByName("198.18.1.11"),
            1,
            1,
            0,
            0,
            0,
            false,
            "é".repeat(150),
            false);
    byte[] bytes = codec.encode(r);
    NodeReport back = codec.decodeReport(bytes, 0, bytes.length);
    assertThat(back.health()).isEqualTo("é".repeat(100));
  }

  @Test
  void derivedKeysDifferFromEachOtherAndFromTheClusterKey() {
    SyncKeys k = SyncKeys.derive(KEY);
    assertThat(k.reportKey())
        .isNotEqualTo(k.joinSecret())
        .isNotEqualTo(k.encryptionKey().getEncoded())
        .isNotEqualTo(KEY)
        .hasSize(32);
    assertThat(SyncKeys.derive(OTHER_KEY).joinSecret()).isNotEqualTo(k.joinSecret());
    assertThat(k.toString()).doesNotContain("0123");
  }
}
