package io.baton.cli.bench;

import io.baton.lab.Host;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the balancer's work on CPU 0 and everything else on CPU 1, so CPU 0's busy time is the
 * balancer node's cost: processes are started under {@code taskset}, interfaces' receive processing
 * is steered with RPS ({@code /sys/class/net/IF/queues/rx-0/rps_cpus}, a CPU bit mask), and this
 * JVM (the harness) moves itself to CPU 1 for the run.
 *
 * <p>On veth, a packet's receive work runs on whichever CPU processes the receiving end's backlog;
 * with RPS set, that is the CPU in the mask. The lab's switch namespace (the bridges: the "wire")
 * is steered to CPU 1, so CPU 0 pays only for the balancer's own stack.
 *
 * <p>Stateless apart from the saved affinity of this JVM; confined to the runner's thread.
 */
final class CpuSteering {
  /** CPU of the balancer node. */
  static final int BALANCER_CPU = 0;

  /** CPU of the client, the servers, the lab's bridges and the harness. */
  static final int OTHERS_CPU = 1;

  private static final long COMMAND_TIMEOUT_S = 20;

  private String savedMask;

  /** {@code taskset -c CPU command...}: the command and every thread it makes run on CPU. */
  static List<String> pinned(int cpu, List<String> command) {
    List<String> full = new ArrayList<>(List.of("taskset", "-c", Integer.toString(cpu)));
    full.addAll(command);
    return full;
  }

  /** Moves every thread of this JVM (and what it starts from now on) to {@link #OTHERS_CPU}. */
  void pinThisJvm() throws IOException, InterruptedException {
    String pid = Long.toString(ProcessHandle.current().pid());
    String shown = run(List.of("taskset", "-p", pid)).strip();
    savedMask = shown.substring(shown.lastIndexOf(':') + 1).strip();
    run(List.of("taskset", "-a", "-p", "-c", Integer.toString(OTHERS_CPU), pid));
  }

  /** Gives this JVM back the affinity it had before {@link #pinThisJvm}. */
  void restoreThisJvm() {
    if (savedMask == null) return;
    try {
      run(List.of("taskset", "-a", "-p", savedMask, Long.toString(ProcessHandle.current().pid())));
    } catch (IOException e) {
      // best effort: the JVM merely stays on one CPU
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    savedMask = null;
  }

  /** Steers the receive processing of {@code devices} in {@code host} to {@code cpu}. */
  static void steer(Host host, int cpu, String... devices) {
    for (String dev : devices) {
      String file = "/sys/class/net/" + dev + "/queues/rx-0/rps_cpus";
      host.exec("sh", "-c", "echo " + mask(cpu) + " > " + file).orThrow();
      String now = host.exec("cat", file).orThrow().stdout().strip();
      if (Long.parseLong(now.replace(",", ""), 16) != 1L << cpu) {
        throw new IllegalStateException(
            file + " in " + host.name() + " reads " + now + " after writing " + mask(cpu));
      }
    }
  }

  /** Steers every interface of the lab's switch namespace (bridge ports) to {@code cpu}. */
  static void steerNamespace(String namespace, int cpu) throws IOException, InterruptedException {
    run(
        List.of(
            "ip",
            "netns",
            "exec",
            namespace,
            "sh",
            "-c",
            "for q in /sys/class/net/*/queues/rx-*/rps_cpus; do echo "
                + mask(cpu)
                + " > \"$q\"; done"));
  }

  /** True when the machine has both CPUs this steering needs online. */
  static boolean hasTwoCpus() {
    return Runtime.getRuntime().availableProcessors() >= 2
        || new File("/sys/devices/system/cpu/cpu1").exists();
  }

  private static String mask(int cpu) {
    return Long.toHexString(1L << cpu);
  }

  private static String run(List<String> command) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    if (!p.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(
          "`" + String.join(" ", command) + "` did not finish in " + COMMAND_TIMEOUT_S + " s");
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException(
          "`"
              + String.join(" ", command)
              + "` failed (exit "
              + p.exitValue()
              + "): "
              + out.strip());
    }
    return out;
  }
}
