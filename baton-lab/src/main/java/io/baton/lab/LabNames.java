package io.baton.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The naming scheme that lets labs of overlapping runs share one machine. Every namespace a lab
 * makes is called {@code bt<pid>x<lab>-<member>}: the pid of the JVM that made it, a per-process
 * lab number in hex, and the host's name (or {@code switch}). The pid is what lets a later run tell
 * a namespace of a live run from one a dead run left behind.
 *
 * <p>Stateless and thread-safe.
 */
final class LabNames {
  /** Where {@code ip netns add} pins namespaces; see {@link io.baton.linux.Netns#pathOf}. */
  static final Path NETNS_DIR = Path.of("/run/netns");

  static final String SWITCH_MEMBER = "switch";

  private static final Pattern LAB_DIR = Pattern.compile("baton-lab-(\\d{1,10})-.+");
  private static final Pattern NAMESPACE = Pattern.compile("bt(\\d{1,10})x([0-9a-f]+)-(.+)");
  private static final Pattern MEMBER = Pattern.compile("[a-z][a-z0-9-]{0,31}");
  private static final Pattern SEGMENT = Pattern.compile("[a-z][a-z0-9]{0,11}");
  private static final Pattern INTERFACE = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}");

  private LabNames() {}

  static String namespace(long pid, long labNumber, String member) {
    return "bt" + pid + "x" + Long.toHexString(labNumber) + "-" + member;
  }

  /** The pid that made {@code namespace}, or empty when the name is not one of ours. */
  static OptionalLong ownerPid(String namespace) {
    Matcher m = NAMESPACE.matcher(namespace);
    return m.matches() ? OptionalLong.of(Long.parseLong(m.group(1))) : OptionalLong.empty();
  }

  /** The prefix of a lab's temporary directory; it carries the pid like namespace names do. */
  static String dirPrefix(long pid, String purpose) {
    return "baton-lab-" + pid + "-" + purpose + "-";
  }

  /** The pid that made lab directory {@code name}, or empty when the name is not one of ours. */
  static OptionalLong dirOwnerPid(String name) {
    Matcher m = LAB_DIR.matcher(name);
    return m.matches() ? OptionalLong.of(Long.parseLong(m.group(1))) : OptionalLong.empty();
  }

  /** The names of all pinned namespaces that follow our scheme, whoever made them. */
  static List<String> existing() {
    if (!Files.isDirectory(NETNS_DIR)) return List.of();
    try (Stream<Path> entries = Files.list(NETNS_DIR)) {
      return entries
          .map(p -> p.getFileName().toString())
          .filter(n -> ownerPid(n).isPresent())
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + NETNS_DIR, e);
    }
  }

  static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  /** A host name: lower case, starts with a letter, at most 32 characters, not "switch". */
  static String checkHostName(String name) {
    if (name == null || !MEMBER.matcher(name).matches() || name.equals(SWITCH_MEMBER)) {
      throw new IllegalArgumentException(
          "host name '" + name + "' must match [a-z][a-z0-9-]{0,31} and not be 'switch'");
    }
    return name;
  }

  /**
   * A segment name. It becomes the interface name inside each attached host and, with "br-" in
   * front, the bridge's name, so it must fit the kernel's 15-character limit with room for that.
   */
  static String checkSegmentName(String name) {
    if (name == null || !SEGMENT.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "segment name '" + name + "' must match [a-z][a-z0-9]{0,11}");
    }
    return name;
  }

  static String checkInterfaceName(String name) {
    if (name == null || !INTERFACE.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "interface name '" + name + "' is not a Linux interface name (1-15 of [a-zA-Z0-9_.-])");
    }
    return name;
  }
}
