package io.baton.linux;

import java.io.IOException;

/**
 * The one exception type of the Linux door: a system or library call failed.
 *
 * <p>Carries the name of the call, the {@code errno} value (0 when the failure did not come with
 * one, e.g. a libnftables error buffer) and the kernel's text for it, so a message reads like
 * {@code setsockopt(TCP_REPAIR_WINDOW) failed: Invalid argument (errno 22)}. Immutable.
 */
public final class LinuxException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String call;
  private final int errno;

  public LinuxException(String call, int errno) {
    super(call + " failed: " + Errno.describe(errno));
    this.call = call;
    this.errno = errno;
  }

  public LinuxException(String call, String detail) {
    super(call + " failed: " + detail);
    this.call = call;
    this.errno = 0;
  }

  /**
   * The call that failed, with the option or argument that tells it apart, e.g. {@code
   * ioctl(SIOCINQ)}.
   */
  public String call() {
    return call;
  }

  /** The {@code errno} the call reported, or 0 when it reported none. */
  public int errno() {
    return errno;
  }
}
