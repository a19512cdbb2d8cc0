package io.baton.cli.farm;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/** Makes the lab's throw-away TLS certificate with openssl. Stateless. */
final class Tls {
  private Tls() {}

  /**
   * Writes {@code tls-cert.pem} and {@code tls-key.pem} into {@code dir}: one self-signed
   * certificate valid for every name (clients trust it with {@code --cacert}). Returns the cert.
   */
  static Path makeCertificates(Path dir, List<String> names)
      throws IOException, InterruptedException {
    Path cert = dir.resolve("tls-cert.pem");
    Path key = dir.resolve("tls-key.pem");
    String san = names.stream().map(n -> "DNS:" + n).collect(Collectors.joining(","));
    Process p =
        new ProcessBuilder(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                key.toString(),
                "-out",
                cert.toString(),
                "-days",
                "2",
                "-subj",
                "/CN=baton-lab",
                "-addext",
                "subjectAltName=" + san)
            .redirectErrorStream(true)
            .start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("openssl did not finish in 60 s");
    }
    String out = new String(p.getInputStream().readAllBytes());
    if (p.exitValue() != 0)
      throw new IOException("openssl req failed (exit " + p.exitValue() + "): " + out.strip());
    return cert;
  }
}
