package io.baton.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The identity of a network namespace: the inode number of its nsfs file, what {@code readlink
 * /proc/thread-self/ns/net} prints as {@code net:[4026532xxx]}. Two threads are in the same
 * namespace exactly when these numbers are equal (one nsfs instance per kernel). Use it to name
 * per-namespace resources on a file system that several namespaces share, such as lock files under
 * /run.
 *
 * <p>Stateless and thread-safe; answers for the calling thread, since a namespace belongs to a
 * thread (see {@link Netns}).
 */
public final class NetnsIdentity {
  private static final Path SELF = Path.of("/proc/thread-self/ns/net");
  private static final Pattern LINK = Pattern.compile("net:\\[([0-9]{1,20})\\]");

  private NetnsIdentity() {}

  /**
   * The identity of the namespace pinned at {@code nsfsFile} (such as {@code /run/netns/NAME}, see
   * {@link Netns#pathOf}): the same number {@link #current} gives a thread inside it.
   */
  public static long of(Path nsfsFile) throws LinuxException {
    try {
      return ((Number) Files.getAttribute(nsfsFile, "unix:ino")).longValue();
    } catch (IOException | RuntimeException e) {
      throw new LinuxException("stat(" + nsfsFile + ")", e.toString());
    }
  }

  /** The inode number of the calling thread's network namespace. */
  public static long current() throws LinuxException {
    String link;
    try {
      link = Files.readSymbolicLink(SELF).toString();
    } catch (IOException e) {
      throw new LinuxException("readlink(" + SELF + ")", e.toString());
    }
    Matcher m = LINK.matcher(link);
    if (!m.matches())
      throw new LinuxException("readlink(" + SELF + ")", "unexpected target '" + link + "'");
    return Long.parseUnsignedLong(m.group(1));
  }
}
