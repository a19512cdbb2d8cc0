package io.baton.cli.bench;

import io.baton.cli.farm.ProcessFarm;
import io.baton.cli.farm.ProcessLab;
import io.baton.cli.farm.RoutedFarm;
import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.InterfaceStats;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What forwarding costs the dispatcher node, unchanged on one segment against encapsulated across a
 * router, and how many new UDP flows one dispatcher core assigns ({@code ./baton bench --routed}).
 *
 * <ul>
 *   <li><b>Forwarding</b>: uploads through handed-off connections ({@code POST /echo}, the answer
 *       leaving the server straight to the client), in the flat farm (nftables {@code fwd}) and in
 *       the routed farm (the BPF program wraps each packet). As in the main benchmark, the
 *       dispatcher's receive processing is steered to CPU 0 (RPS on its front interface) and
 *       everything else (client, servers, router, the lab's bridges, every process) to CPU 1, so
 *       CPU 0's irq and softirq time is the dispatcher node's forwarding cost (its busy time in all
 *       is reported too: it includes whatever process the scheduler put there): per MiB uploaded
 *       and per packet it forwarded (its fabric interface's transmit count; veth hands over TCP
 *       super-packets of up to 64 KB, so a "packet" here is what the kernel forwarded as one).
 *   <li><b>UDP flows</b>: a client opens flows from distinct source ports, one datagram each to the
 *       agent's echo behind a {@code mode: udp} VIP; each flow's first datagram is assigned by the
 *       dispatcher process. Its CPU time (user + system, /proc) per flow gives flows per second per
 *       dispatcher core.
 * </ul>
 *
 * <p>Confined to the calling thread.
 */
public final class RoutedBench {
  /** One forwarding mode's figures. */
  public record ForwardRow(
      String mode, int runs, double mib, long packets, double cpu0Us, double cpu0SampledUs) {
    public double usPerMib() {
      return cpu0Us / mib;
    }

    public double nsPerPacket() {
      return cpu0Us * 1000 / packets;
    }
  }

  /** The UDP flow figures. */
  public record UdpRow(long flows, long answered, double seconds, double dispatcherUs) {
    public double flowsPerSecond() {
      return answered / seconds;
    }

    public double usPerFlow() {
      return dispatcherUs / flows;
    }

    public double flowsPerCore() {
      return 1e6 / usPerFlow();
    }
  }

  private static final int UPLOAD_MIB = 50;

  private final PrintWriter out;
  private final int uploads;
  private final int flows;

  /**
   * @param uploads 50 MiB uploads per forwarding mode
   * @param flows UDP flows to open (after a tenth as many for warm-up)
   */
  public RoutedBench(PrintWriter out, int uploads, int flows) {
    this.out = out;
    this.uploads = uploads;
    this.flows = flows;
  }

  public record Result(ForwardRow direct, ForwardRow encap, UdpRow udp) {}

  public Result run() throws Exception {
    CpuSteering steering = new CpuSteering();
    steering.pinThisJvm(); // the farms' processes inherit CPU 1
    try {
      ForwardRow direct;
      try (ProcessFarm farm = new ProcessFarm("rbench-direct", ProcessFarm.Options.DEFAULT)) {
        farm.startAll();
        steer(farm, farm.d1, "fabric");
        direct = forward(farm, farm.client, farm.d1, "fabric", "direct", ProcessFarm.url("/echo"));
      }
      ForwardRow encap;
      UdpRow udp;
      try (RoutedFarm farm = new RoutedFarm("rbench-routed", "")) {
        farm.startAll();
        steer(farm, farm.d1, "uplink");
        encap = forward(farm, farm.client, farm.d1, "uplink", "encap", RoutedFarm.url("/echo"));
        udp = udpFlows(farm);
      }
      return new Result(direct, encap, udp);
    } finally {
      steering.restoreThisJvm();
    }
  }

  /** d1's front to CPU 0; every other interface of every host and the switch to CPU 1. */
  private static void steer(ProcessLab farm, Host d1, String d1Fabric) throws Exception {
    CpuSteering.steer(d1, CpuSteering.BALANCER_CPU, "front");
    CpuSteering.steer(d1, CpuSteering.OTHERS_CPU, d1Fabric);
    for (Host h : farm.lab.hosts()) {
      if (h == d1) continue;
      for (String dev : h.interfaces()) CpuSteering.steer(h, CpuSteering.OTHERS_CPU, dev);
    }
    CpuSteering.steerNamespace(farm.lab.switchNamespace(), CpuSteering.OTHERS_CPU);
  }

  private ForwardRow forward(
      ProcessLab farm, Host client, Host d1, String d1Fabric, String mode, String url)
      throws Exception {
    Path body = farm.lab.dir().resolve("bench-upload.bin");
    byte[] chunk = new byte[1 << 20];
    new java.util.Random(13).nextBytes(chunk);
    try (var o = Files.newOutputStream(body)) {
      for (int i = 0; i < UPLOAD_MIB; i++) o.write(chunk);
    }
    List<String> curl =
        List.of(
            "curl",
            "-sS",
            "-f",
            "-o",
            "/dev/null",
            "-H",
            "Expect:",
            "--data-binary",
            "@" + body,
            url);
    // Wire-sized packets, as a dispatcher's NIC receives them from the Internet: the client's veth
    // would otherwise hand over 64 KB super-packets (TSO), which d1 forwards as one each, and the
    // per-packet cost would drown in the 10 ms ticks of /proc/stat.
    client.execOrThrow("ethtool", "-K", "front", "tso", "off", "gso", "off");
    upload(client, curl); // warm-up: JIT, ARP, the echo's buffers
    InterfaceStats f0 = d1.interfaceStats(d1Fabric);
    CpuTimes c0 = CpuTimes.read();
    long idle0 = CpuTimes.cpu0IdleTicks();
    long t0 = System.nanoTime();
    for (int i = 0; i < uploads; i++) upload(client, curl);
    long wallTicks = (System.nanoTime() - t0) / (1_000_000_000L / CpuTimes.TICKS_PER_SECOND);
    long idle = CpuTimes.cpu0IdleTicks() - idle0;
    CpuTimes c = CpuTimes.read().minus(c0);
    InterfaceStats f1 = d1.interfaceStats(d1Fabric);
    ForwardRow row =
        new ForwardRow(
            mode,
            uploads,
            (double) uploads * UPLOAD_MIB,
            f1.txPackets() - f0.txPackets(),
            (double) Math.max(0, wallTicks - idle) * CpuTimes.MICROS_PER_TICK,
            (double) c.cpu0Busy() * CpuTimes.MICROS_PER_TICK);
    out.printf(
        "forwarding %-6s %,.0f MiB: CPU 0 %,.0f µs per MiB, %,.0f ns per forwarded packet"
            + " (%,d packets; tick-sampled busy %,.0f µs per MiB)%n",
        mode,
        row.mib(),
        row.usPerMib(),
        row.nsPerPacket(),
        row.packets(),
        row.cpu0SampledUs() / row.mib());
    out.flush();
    return row;
  }

  private static void upload(Host client, List<String> curl) {
    CommandResult r = client.exec(curl, Duration.ofSeconds(120));
    if (r.exitCode() != 0) throw new IllegalStateException("upload failed: " + r.stderr());
  }

  private UdpRow udpFlows(RoutedFarm farm) throws Exception {
    long pid = farm.process("d1").pid();
    openFlows(farm.client, 20_000, Math.max(100, flows / 10)); // warm-up
    long ticks0 = BenchProcess.ticksOf(pid);
    long t0 = System.nanoTime();
    long answered = openFlows(farm.client, 30_000, flows);
    double seconds = (System.nanoTime() - t0) / 1e9;
    long ticks = BenchProcess.ticksOf(pid) - ticks0;
    UdpRow row = new UdpRow(flows, answered, seconds, (double) ticks * CpuTimes.MICROS_PER_TICK);
    out.printf(
        "udp flows: %,d opened, %,d answered in %.1f s (%,.0f flows/s); dispatcher %.1f µs per flow,"
            + " %,.0f flows/s per core%n",
        row.flows(),
        row.answered(),
        row.seconds(),
        row.flowsPerSecond(),
        row.usPerFlow(),
        row.flowsPerCore());
    out.flush();
    return row;
  }

  /**
   * From the client, {@code count} flows from ports {@code firstPort}..: in batches of 500 sockets,
   * one datagram each to the echo, then the answers collected (each batch bounded by 2 s). Returns
   * how many flows were answered.
   */
  private static long openFlows(Host client, int firstPort, int count) throws Exception {
    return client.call(
        () -> {
          InetSocketAddress echo = new InetSocketAddress(RoutedFarm.VIP, 7);
          long answered = 0;
          for (int from = 0; from < count; from += 500) {
            int n = Math.min(500, count - from);
            List<DatagramChannel> channels = new ArrayList<>(n);
            try (Selector selector = Selector.open()) {
              for (int i = 0; i < n; i++) {
                DatagramChannel ch = DatagramChannel.open();
                channels.add(ch);
                ch.bind(new InetSocketAddress(RoutedFarm.CLIENT_IP, firstPort + from + i));
                ch.configureBlocking(false);
                ch.register(selector, SelectionKey.OP_READ);
                ch.send(ByteBuffer.wrap(new byte[] {1, 2, 3, 4}), echo);
              }
              int got = 0;
              long deadline = System.nanoTime() + 2_000_000_000L;
              ByteBuffer buf = ByteBuffer.allocate(64);
              while (got < n && System.nanoTime() < deadline) {
                if (selector.select(100) == 0) continue;
                for (SelectionKey k : selector.selectedKeys()) {
                  buf.clear();
                  if (((DatagramChannel) k.channel()).receive(buf) != null) {
                    got++;
                    k.cancel();
                  }
                }
                selector.selectedKeys().clear();
              }
              answered += got;
            } finally {
              for (DatagramChannel ch : channels) ch.close();
            }
          }
          return answered;
        });
  }

  /** The results as Markdown. */
  public String report(Result r, String title) {
    StringBuilder b = new StringBuilder(title).append("\n\n");
    b.append("Forwarding: ")
        .append(uploads)
        .append(
            " uploads of 50 MiB each (`curl --data-binary`, `POST /echo`) through handed-off"
                + " connections, the client sending wire-sized packets (TSO and GSO off); the dispatcher's receive processing on CPU 0 (RPS), everything else on"
                + " CPU 1; CPU 0's busy time = wall time - its idle time (/proc/stat: idle is kept"
                + " exactly under NO_HZ, the busy columns only sampled by the 100 Hz tick, shown last)."
                + " Nothing else may run meanwhile: run it on a quiet machine.\n\n");
    b.append(
            "| forwarding | MiB | packets forwarded | CPU 0 µs per MiB | CPU 0 ns per packet |"
                + " tick-sampled busy µs per MiB |\n")
        .append("|---|---:|---:|---:|---:|---:|\n");
    for (ForwardRow f : List.of(r.direct(), r.encap())) {
      b.append(
          String.format(
              "| %s | %,.0f | %,d | %,.0f | %,.0f | %,.0f |%n",
              f.mode(),
              f.mib(),
              f.packets(),
              f.usPerMib(),
              f.nsPerPacket(),
              f.cpu0SampledUs() / f.mib()));
    }
    b.append(
        String.format(
            "%nencap : direct per forwarded packet %.2f, per MiB %.2f (target: at most 2).%n%n",
            r.encap().nsPerPacket() / r.direct().nsPerPacket(),
            r.encap().usPerMib() / r.direct().usPerMib()));
    UdpRow u = r.udp();
    b.append(
        String.format(
            "UDP flows: %,d new flows (one datagram each, to the agent's echo behind a `mode: udp`"
                + " VIP, 500 at a time), %,d answered in %.1f s (%,.0f flows/s); the dispatcher"
                + " process spent %.1f µs per flow: **%,.0f new flows per second per dispatcher"
                + " core**.%n",
            u.flows(),
            u.answered(),
            u.seconds(),
            u.flowsPerSecond(),
            u.usPerFlow(),
            u.flowsPerCore()));
    return b.toString();
  }
}
