package io.baton.cli.bench;

import io.baton.cli.Baton;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the command line that starts another {@code baton} JVM with this JVM's Java and this JVM's
 * Baton: {@code java -jar baton.jar ...} when running from the runnable jar, else {@code java -cp
 * <this classpath> io.baton.cli.Baton ...} (tests in Maven run from class directories, before the
 * jar exists). Immutable.
 */
final class JavaLauncher {
  /** Bounded heap: four Baton JVMs share the machine with the load generator. */
  private static final List<String> JVM_OPTIONS =
      List.of("--enable-native-access=ALL-UNNAMED", "-Xmx1g");

  /**
   * Extra options for the Baton JVMs the benchmark starts, e.g. {@code
   * -XX:StartFlightRecording=...}.
   */
  static final String OPTIONS_ENV = "BATON_BENCH_JAVA_OPTIONS";

  private final Path java;
  private final List<String> entry;
  private final String description;

  private JavaLauncher(Path java, List<String> entry, String description) {
    this.java = java;
    this.entry = List.copyOf(entry);
    this.description = description;
  }

  /** The launcher for the Baton this class was loaded from. */
  static JavaLauncher current() {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Path source = codeSource();
    if (source != null
        && Files.isRegularFile(source)
        && source.getFileName().toString().endsWith(".jar")) {
      return new JavaLauncher(java, List.of("-jar", source.toString()), "jar " + source);
    }
    String classpath = System.getProperty("java.class.path");
    return new JavaLauncher(
        java, List.of("-cp", classpath, Baton.class.getName()), "classpath of this JVM");
  }

  /**
   * {@code java <options> (-jar JAR | -cp CP io.baton.cli.Baton) <batonArguments>}. Extra JVM
   * options (a profiler agent, JFR) come from the environment variable {@value #OPTIONS_ENV}, split
   * on blanks.
   */
  List<String> command(List<String> batonArguments) {
    List<String> cmd = new ArrayList<>();
    cmd.add(java.toString());
    cmd.addAll(JVM_OPTIONS);
    String extra = System.getenv(OPTIONS_ENV);
    if (extra != null && !extra.isBlank()) cmd.addAll(List.of(extra.strip().split("\\s+")));
    cmd.addAll(entry);
    cmd.addAll(batonArguments);
    return cmd;
  }

  /** Where the Baton code comes from: the jar or the class directory, or null if unknown. */
  static Path codeSource() {
    CodeSource source = JavaLauncher.class.getProtectionDomain().getCodeSource();
    if (source == null || source.getLocation() == null) return null;
    try {
      return Path.of(source.getLocation().toURI());
    } catch (URISyntaxException | IllegalArgumentException e) {
      return null;
    }
  }

  @Override
  public String toString() {
    return java + " with " + description;
  }
}
