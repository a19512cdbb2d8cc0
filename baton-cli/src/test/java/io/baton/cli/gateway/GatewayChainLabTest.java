package io.baton.cli.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.cli.farm.GatewayChain;
import io.baton.lab.CommandResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Chained gateways, hop by hop: client - gwa - gwb - gwc - remote, with the remote registered at
 * gwa (peer gwb) and at gwb (peer gwc). A download and an upload cross both trunks byte-exact, and
 * each gateway's port conversion table shows its side of the connection while it lasts.
 */
@Tag("lab")
class GatewayChainLabTest {
  @Test
  void aConnectionCrossesTwoTrunksHopByHop() throws Exception {
    try (GatewayChain chain = new GatewayChain("gwchain", 16 << 20)) {
      for (String[] hop :
          new String[][] {{"198.18.8.1", "198.18.9.2"}, {"198.18.10.2", "198.18.10.3"}}) {
        CommandResult r =
            chain.register(hop[0], hop[1], "--connections", "3", "--congestion-control", "bbr");
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
      }
      long opensA = chain.get("gwa").snmpCounter("Tcp", "PassiveOpens");
      Path out = chain.lab.dir().resolve("dl.bin");
      CommandResult r =
          chain
              .get("client")
              .exec(
                  List.of(
                      "curl",
                      "-sS",
                      "-f",
                      "-m",
                      "60",
                      "-o",
                      out.toString(),
                      "http://" + GatewayChain.REMOTE_IP + "/big.bin"),
                  Duration.ofSeconds(70));
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(Files.mismatch(out, chain.content.resolve("big.bin"))).isEqualTo(-1);
      assertThat(chain.get("gwa").snmpCounter("Tcp", "PassiveOpens")).isGreaterThan(opensA);

      // An upload, with the streams listed on every hop while it runs (the client sends slowly:
      // 16 s at 256 KiB/s). Each listing is a CLI process of its own, three per look, seconds
      // each on a loaded host: one look took longer than a 4 s upload lasted (CI: the streams
      // never all seen at once), so each hop's sighting is kept once seen.
      byte[] body = new byte[4 << 20];
      new java.util.SplittableRandom(3).nextBytes(body);
      Path in = Files.write(chain.lab.dir().resolve("up.bin"), body);
      Path echo = chain.lab.dir().resolve("echo.bin");
      Process curl =
          chain
              .get("client")
              .start(
                  List.of(
                      "curl",
                      "-sS",
                      "-f",
                      "-m",
                      "90",
                      "--limit-rate",
                      "256K",
                      "--data-binary",
                      "@" + in,
                      "-o",
                      echo.toString(),
                      "http://" + GatewayChain.REMOTE_IP + "/echo"));
      java.util.Set<String> seen = new java.util.TreeSet<>();
      GatewayChain.awaitTrue(
          () -> {
            if (!seen.contains("gwa near")
                && chain.streams("198.18.8.1").contains("\"side\" : \"near\"")) {
              seen.add("gwa near");
            }
            if (!seen.contains("gwb far") || !seen.contains("gwb near")) {
              String gwb = chain.streams("198.18.10.2");
              if (gwb.contains("\"side\" : \"far\"")) seen.add("gwb far");
              if (gwb.contains("\"side\" : \"near\"")) seen.add("gwb near");
            }
            if (!seen.contains("gwc far")
                && chain.streams("198.18.11.3").contains("\"side\" : \"far\"")) {
              seen.add("gwc far");
            }
            if (seen.size() < 4 && !curl.isAlive()) {
              throw new IllegalStateException(
                  "the upload ended with only " + seen + " of its streams seen");
            }
            return seen.size() == 4;
          },
          Duration.ofSeconds(40),
          "the upload's streams on gwa (near), gwb (far and near) and gwc (far)");
      assertThat(curl.waitFor(90, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(curl.exitValue()).isZero();
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      assertThat(HexFormat.of().formatHex(sha.digest(Files.readAllBytes(echo))))
          .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body)));
    }
  }
}
