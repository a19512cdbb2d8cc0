package io.baton.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/**
 * Supplies {@code baton --version}: the project version and the git commit Maven wrote into {@code
 * version.properties} at build time, and the Java runtime in use (Baton needs 25 or newer).
 *
 * <p>Stateless; thread-safe.
 */
final class VersionProvider implements IVersionProvider {
  static final String RESOURCE = "version.properties";

  @Override
  public String[] getVersion() {
    Properties p = properties();
    return new String[] {
      "baton " + p.getProperty("version", "unknown") + " (" + commit(p) + ")",
      "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name", "?") + ")",
    };
  }

  static String version() {
    return properties().getProperty("version", "unknown");
  }

  /**
   * {@code commit 0123456789ab of 2026-11-30T10:48:52Z}, with a note when built from changed files.
   */
  static String commit(Properties p) {
    String id = p.getProperty("commit", "");
    if (id.isEmpty() || id.startsWith("${")) return "commit unknown: not built from a git clone";
    String time = p.getProperty("commitTime", "");
    return "commit "
        + id
        + (time.isEmpty() || time.startsWith("${") ? "" : " of " + time)
        + ("true".equals(p.getProperty("dirty")) ? ", with uncommitted changes" : "");
  }

  private static Properties properties() {
    try (InputStream in = VersionProvider.class.getResourceAsStream(RESOURCE)) {
      Properties properties = new Properties();
      if (in != null) properties.load(in);
      return properties;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
  }
}
