package io.baton.cli.farm;

import io.baton.cli.Baton;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * The class path, and a class-data-sharing archive, for the Baton JVMs a {@link ProcessLab} starts:
 * a farm's processes spend most of their start loading and verifying the same ~4,000 classes, on
 * CPUs the farm shares, and a farm test's time is mostly its processes' starts (CDS: ~1.2 s less
 * per two-server farm test on a 2-CPU host, measured with a smaller archive than this).
 *
 * <p>Made once per JVM, at the first start: a directory on this JVM's class path (Maven's {@code
 * target/classes} while tests run) is copied into a jar, since CDS archives classes from jars only;
 * then a server is started with {@code -XX:ArchiveClassesAtExit} in a lab namespace of its own,
 * where it loads its config, Netty and the rest and stops at once, its host not prepared. If any of
 * that fails, the processes start without an archive (slower, nothing else changes), and one line
 * on standard error says why.
 */
final class ClassArchive {
  /** How long the training server may take to start and stop. */
  private static final long TRAINING_LIMIT_S = 60;

  /** A server config that loads what a server loads, in a namespace without its devices. */
  private static final String TRAINING_CONFIG =
      """
      node:
        name: train
        roles: [server]
        interfaces:
          fabric: { device: fabric, address: 198.18.1.11 }
          sync:   { device: sync,   address: 198.18.2.11 }
      cluster:
        key: ee16344407eb88ebdd81e0b29de92448921a96dcfcf14d509f4cae55bb22f677
        handoff-port: 7400
      server:
        apply-host-preparation: false
        deliveries:
          - { vip: 198.18.0.100, port: 80,  relay: 127.0.0.1:8080 }
          - { vip: 198.18.0.100, port: 443, embedded: { app: sample, root: /tmp } }
      sync:
        seeds: [198.18.2.1, 198.18.2.11]
      metrics:
        listen: 127.0.0.1:9400
      """;

  private static List<String> options;

  private ClassArchive() {}

  /** {@code -cp CLASSPATH}, preceded by the archive's options when there is one. */
  static synchronized List<String> jvmOptions() {
    if (options == null) options = make();
    return options;
  }

  private static List<String> make() {
    String classPath = System.getProperty("java.class.path");
    try {
      Path dir = Files.createTempDirectory("baton-cds-");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteQuietly(dir)));
      String jars = jarsOnly(classPath, dir);
      Path archive = dir.resolve("baton.jsa");
      long t0 = System.nanoTime();
      train(jars, archive);
      if (!Files.isRegularFile(archive) || Files.size(archive) == 0) {
        throw new IOException("the training server wrote no archive");
      }
      System.err.printf(
          "baton labs: Baton processes start with a class-data archive (%d KiB, made in %d ms)%n",
          Files.size(archive) / 1024, (System.nanoTime() - t0) / 1_000_000);
      // -Xlog:cds=off: an archive the JVM cannot map is skipped without a line in a node's output.
      return List.of("-XX:SharedArchiveFile=" + archive, "-Xlog:cds=off", "-cp", jars);
    } catch (IOException | RuntimeException e) {
      System.err.println(
          "baton labs: starting Baton processes without a class-data archive (slower): " + e);
      return List.of("-cp", classPath);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of("-cp", classPath);
    }
  }

  /** {@code classPath} with each directory replaced by a jar of its files (in {@code dir}). */
  private static String jarsOnly(String classPath, Path dir) throws IOException {
    List<String> entries = new ArrayList<>();
    int n = 0;
    for (String entry : classPath.split(File.pathSeparator)) {
      if (entry.isEmpty()) continue;
      Path p = Path.of(entry);
      if (Files.isDirectory(p)) {
        Path jar = dir.resolve("classes-" + n++ + ".jar");
        jar(p, jar);
        entries.add(jar.toString());
      } else if (Files.isRegularFile(p)) {
        entries.add(entry);
      }
    }
    return String.join(File.pathSeparator, entries);
  }

  private static void jar(Path root, Path jar) throws IOException {
    try (OutputStream out = Files.newOutputStream(jar);
        JarOutputStream j = new JarOutputStream(out);
        Stream<Path> files = Files.walk(root)) {
      for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
        j.putNextEntry(
            new JarEntry(root.relativize(f).toString().replace(File.separatorChar, '/')));
        Files.copy(f, j);
        j.closeEntry();
      }
    }
  }

  /** Runs the training server in a namespace of its own until it exits, writing {@code archive}. */
  private static void train(String jars, Path archive) throws IOException, InterruptedException {
    try (Lab lab = Lab.create("cds")) {
      Host host = lab.host("train");
      Path config = lab.dir().resolve("train.yaml");
      Files.writeString(config, TRAINING_CONFIG);
      List<String> cmd = new ArrayList<>(ProcessLab.jvm());
      cmd.addAll(
          List.of(
              "-XX:ArchiveClassesAtExit=" + archive,
              "-cp",
              jars,
              Baton.class.getName(),
              "server",
              "--config",
              config.toString()));
      Process p = host.start(cmd);
      if (!p.waitFor(TRAINING_LIMIT_S, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("the training server did not stop within " + TRAINING_LIMIT_S + " s");
      }
    }
  }

  private static void deleteQuietly(Path dir) {
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary directory: nothing more to do at exit
    }
  }
}
