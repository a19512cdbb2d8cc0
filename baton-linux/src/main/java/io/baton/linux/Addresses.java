package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * IPv4 and IPv6 addresses of network devices, changed and listed over rtnetlink ({@code
 * NETLINK_ROUTE}): what {@code ip addr add|del|show} does, without starting a process. One socket
 * per call, opened in the calling thread's network namespace, so the change lands where that thread
 * is.
 *
 * <p>Failures are {@link LinuxException}s with the kernel's errno: {@code EEXIST} from {@link #add}
 * when the device already has the address (callers that only want it present treat that as done),
 * {@code EADDRNOTAVAIL} from {@link #delete} when it does not, {@code ENODEV} (19) when there is no
 * such device.
 *
 * <p>Stateless and thread-safe; acts in the calling thread's network namespace.
 */
public final class Addresses {
  // linux/netlink.h
  private static final int NLM_F_REQUEST = 0x1;
  private static final int NLM_F_ACK = 0x4;
  private static final int NLM_F_EXCL = 0x200;
  private static final int NLM_F_CREATE = 0x400;
  private static final int NLM_F_DUMP = 0x300;
  private static final int NLM_F_DUMP_INTR = 0x10;
  private static final int NLMSG_ERROR = 0x2;
  private static final int NLMSG_DONE = 0x3;
  // linux/rtnetlink.h
  private static final int RTM_NEWLINK = 16;
  private static final int RTM_GETLINK = 18;
  private static final int RTM_NEWADDR = 20;
  private static final int RTM_DELADDR = 21;
  private static final int RTM_GETADDR = 22;
  // linux/if_addr.h: struct ifaddrmsg is 8 bytes; IFA_* attributes
  private static final int IFADDRMSG_LEN = 8;
  private static final int IFA_ADDRESS = 1;
  private static final int IFA_LOCAL = 2;
  private static final int IFA_FLAGS = 8;
  // linux/rtnetlink.h: struct ifinfomsg is 16 bytes; linux/if_link.h: IFLA_IFNAME
  private static final int IFINFOMSG_LEN = 16;
  private static final int IFLA_IFNAME = 3;
  // linux/if.h: IFNAMSIZ, with the NUL
  private static final int IFNAMSIZ = 16;
  // bits/socket.h
  private static final int AF_UNSPEC = 0;
  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;
  // linux/if_addr.h: ifa_flags
  private static final int IFA_F_NODAD = 0x02;
  private static final int IFA_F_DADFAILED = 0x08;
  private static final int IFA_F_TENTATIVE = 0x40;
  // linux/rtnetlink.h: enum rt_scope_t; what `ip addr add` picks for a non-127/8 address
  private static final int RT_SCOPE_UNIVERSE = 0;

  private static final long REPLY_TIMEOUT_NS = 5_000_000_000L;
  private static final int SEQ = 1;

  private Addresses() {}

  /**
   * Adds {@code address}/{@code prefixLength} to {@code device}, as {@code ip addr add} does (local
   * and peer address the same, scope global). Fails with {@code EEXIST} if it is there.
   */
  public static void add(String device, Inet4Address address, int prefixLength)
      throws LinuxException {
    Ipv4Prefix prefix = new Ipv4Prefix(address, prefixLength);
    change(
        RTM_NEWADDR,
        NLM_F_CREATE | NLM_F_EXCL,
        "RTM_NEWADDR(" + prefix + " dev " + device + ")",
        device,
        AF_INET,
        0,
        prefixLength,
        address.getAddress());
  }

  /**
   * Adds the IPv6 {@code address}/{@code prefixLength} to {@code device} with {@code IFA_F_NODAD},
   * as {@code ip addr add ... nodad} does: usable at once, never tentative. Baton adds only
   * addresses it owns by configuration (a VIP on {@code lo}), for which duplicate address detection
   * would only delay the first connection by a second or more. Fails with {@code EEXIST} if it is
   * there.
   */
  public static void add(String device, Inet6Address address, int prefixLength)
      throws LinuxException {
    checkIpv6Prefix(prefixLength);
    change(
        RTM_NEWADDR,
        NLM_F_CREATE | NLM_F_EXCL,
        "RTM_NEWADDR(" + IpText.of(address) + "/" + prefixLength + " nodad dev " + device + ")",
        device,
        AF_INET6,
        IFA_F_NODAD,
        prefixLength,
        address.getAddress());
  }

  /** Removes the IPv6 {@code address}/{@code prefixLength} from {@code device}. */
  public static void delete(String device, Inet6Address address, int prefixLength)
      throws LinuxException {
    checkIpv6Prefix(prefixLength);
    change(
        RTM_DELADDR,
        0,
        "RTM_DELADDR(" + IpText.of(address) + "/" + prefixLength + " dev " + device + ")",
        device,
        AF_INET6,
        0,
        prefixLength,
        address.getAddress());
  }

  private static void checkIpv6Prefix(int prefixLength) {
    if (prefixLength < 0 || prefixLength > 128) {
      throw new IllegalArgumentException("IPv6 prefix length must be 0..128, got " + prefixLength);
    }
  }

  /**
   * One IPv6 address of a device and its duplicate address detection state.
   *
   * @param tentative the kernel still probes for a duplicate: sockets cannot bind it yet (bind
   *     fails with EADDRNOTAVAIL) unless they are transparent
   * @param dadFailed another host answered for it: the kernel will never use it
   */
  public record Ipv6State(
      Inet6Address address, int prefixLength, boolean tentative, boolean dadFailed) {}

  /** The IPv6 addresses of {@code device} with their DAD state, in the kernel's order. */
  public static List<Ipv6State> listIpv6(String device) throws LinuxException {
    List<Ipv6State> found = new ArrayList<>();
    dump(
        device,
        AF_INET6,
        (family, prefixLength, flags, bytes) -> {
          try {
            found.add(
                new Ipv6State(
                    Inet6Address.getByAddress(null, bytes, -1),
                    prefixLength,
                    (flags & IFA_F_TENTATIVE) != 0,
                    (flags & IFA_F_DADFAILED) != 0));
          } catch (UnknownHostException e) {
            throw new LinuxException(
                "recv(AF_NETLINK, NETLINK_ROUTE)", "malformed address: " + e.getMessage());
          }
        });
    return found;
  }

  /**
   * Removes {@code address}/{@code prefixLength} from {@code device}; {@code EADDRNOTAVAIL} if
   * absent.
   */
  public static void delete(String device, Inet4Address address, int prefixLength)
      throws LinuxException {
    Ipv4Prefix prefix = new Ipv4Prefix(address, prefixLength);
    change(
        RTM_DELADDR,
        0,
        "RTM_DELADDR(" + prefix + " dev " + device + ")",
        device,
        AF_INET,
        0,
        prefixLength,
        address.getAddress());
  }

  /**
   * The index of {@code device} in the calling thread's namespace; {@code ENODEV} if there is none.
   */
  public static int linkIndex(String device) throws LinuxException {
    try (NetlinkSocket socket = open()) {
      return index(socket, device);
    }
  }

  /** The IPv4 addresses of {@code device}, in the kernel's order (primary addresses first). */
  public static List<Ipv4Prefix> list(String device) throws LinuxException {
    List<Ipv4Prefix> found = new ArrayList<>();
    dump(
        device,
        AF_INET,
        (family, prefixLength, flags, bytes) -> {
          try {
            found.add(new Ipv4Prefix((Inet4Address) InetAddress.getByAddress(bytes), prefixLength));
          } catch (UnknownHostException e) {
            throw new LinuxException(
                "recv(AF_NETLINK, NETLINK_ROUTE)", "malformed address: " + e.getMessage());
          }
        });
    return found;
  }

  /** What a dump reports of one address of the asked family and device. */
  private interface AddressSink {
    void accept(int family, int prefixLength, int flags, byte[] address) throws LinuxException;
  }

  private static void dump(String device, int wantedFamily, AddressSink sink)
      throws LinuxException {
    try (NetlinkSocket socket = open()) {
      int index = index(socket, device);
      NetlinkWriter writer = new NetlinkWriter(64);
      int m = writer.beginMessage(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, SEQ);
      putIfaddrmsg(writer, wantedFamily, 0, 0, index);
      writer.endMessage(m);
      socket.send(writer.written());
      String call = "RTM_GETADDR(dev " + device + ")";
      boolean[] interrupted = {false};
      socket.readReplies(
          REPLY_TIMEOUT_NS,
          true,
          reply -> {
            if (reply.seq() != SEQ) return false;
            if ((reply.flags() & NLM_F_DUMP_INTR) != 0) interrupted[0] = true;
            if (reply.type() == NLMSG_ERROR || reply.type() == NLMSG_DONE) {
              int errno = reply.errno();
              if (errno != 0) throw new LinuxException(call, errno);
              // An address added or removed mid-dump: the list may be torn, say so rather than
              // guess.
              if (interrupted[0])
                throw new LinuxException(call + " (changed while dumped)", Errno.EINTR);
              return true;
            }
            if (reply.type() == RTM_NEWADDR) address(reply, index, wantedFamily, sink);
            return false;
          });
    }
  }

  private static void change(
      int type,
      int extraFlags,
      String call,
      String device,
      int family,
      int ifaFlags,
      int prefixLength,
      byte[] bytes) // network byte order, as IFA_* carry it
      throws LinuxException {
    try (NetlinkSocket socket = open()) {
      int index = index(socket, device);
      NetlinkWriter writer = new NetlinkWriter(128);
      int m = writer.beginMessage(type, NLM_F_REQUEST | NLM_F_ACK | extraFlags, SEQ);
      putIfaddrmsg(writer, family, prefixLength, ifaFlags, index);
      writer.putBytes(IFA_LOCAL, bytes);
      writer.putBytes(IFA_ADDRESS, bytes);
      writer.endMessage(m);
      socket.send(writer.written());
      awaitAck(socket, call);
    }
  }

  /** The device's index (RTM_GETLINK by name); {@code ENODEV} when there is no such device. */
  private static int index(NetlinkSocket socket, String device) throws LinuxException {
    if (device.isEmpty() || device.length() >= IFNAMSIZ || device.indexOf('/') >= 0) {
      throw new IllegalArgumentException("not a device name: \"" + device + "\"");
    }
    NetlinkWriter writer = new NetlinkWriter(64);
    int m = writer.beginMessage(RTM_GETLINK, NLM_F_REQUEST, SEQ);
    writer.putHeaderByte(AF_UNSPEC); // ifi_family
    writer.putHeaderByte(0); // pad
    writer.putHeaderShort(0); // ifi_type
    writer.putHeaderInt(0); // ifi_index: 0, look up by IFLA_IFNAME
    writer.putHeaderInt(0); // ifi_flags
    writer.putHeaderInt(0); // ifi_change
    writer.putString(IFLA_IFNAME, device);
    writer.endMessage(m);
    socket.send(writer.written());
    String call = "RTM_GETLINK(" + device + ")";
    int[] index = {0};
    socket.readReplies(
        REPLY_TIMEOUT_NS,
        true,
        reply -> {
          if (reply.seq() != SEQ) return false;
          if (reply.type() == NLMSG_ERROR) {
            int errno = reply.errno();
            throw errno != 0
                ? new LinuxException(call, errno)
                : new LinuxException(call, "acknowledged without an answer");
          }
          if (reply.type() == RTM_NEWLINK
              && reply.length() >= NetlinkWriter.NLMSG_HDRLEN + IFINFOMSG_LEN) {
            index[0] = reply.datagram().get(JAVA_INT_UNALIGNED, reply.payload() + 4);
            return true;
          }
          return false;
        });
    return index[0];
  }

  private static void awaitAck(NetlinkSocket socket, String call) throws LinuxException {
    socket.readReplies(
        REPLY_TIMEOUT_NS,
        true,
        reply -> {
          if (reply.seq() != SEQ || reply.type() != NLMSG_ERROR) return false;
          if (reply.errno() != 0) throw new LinuxException(call, reply.errno());
          return true;
        });
  }

  private static NetlinkSocket open() throws LinuxException {
    return NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE, "NETLINK_ROUTE");
  }

  /** {@code struct ifaddrmsg}: family, prefix length, flags, scope, device index. */
  private static void putIfaddrmsg(
      NetlinkWriter writer, int family, int prefixLength, int flags, int index) {
    writer.putHeaderByte(family);
    writer.putHeaderByte(prefixLength);
    writer.putHeaderByte(flags); // ifa_flags
    writer.putHeaderByte(RT_SCOPE_UNIVERSE);
    writer.putHeaderInt(index);
  }

  /**
   * Passes the address of one RTM_NEWADDR message to {@code sink} if it is of the family and on
   * {@code index}.
   */
  private static void address(
      NetlinkSocket.Reply message, int index, int wantedFamily, AddressSink sink)
      throws LinuxException {
    MemorySegment m = message.datagram();
    long header = message.payload();
    long end = message.end();
    if (end - header < IFADDRMSG_LEN) return;
    int family = Byte.toUnsignedInt(m.get(JAVA_BYTE, header));
    int prefixLength = Byte.toUnsignedInt(m.get(JAVA_BYTE, header + 1));
    int flags = Byte.toUnsignedInt(m.get(JAVA_BYTE, header + 2));
    int ifaIndex = m.get(JAVA_INT_UNALIGNED, header + 4);
    // Without NETLINK_GET_STRICT_CHK the kernel ignores the index filter and dumps every device.
    if (family != wantedFamily || ifaIndex != index) return;
    int size = family == AF_INET6 ? 16 : 4;
    byte[] local = null;
    byte[] peer = null;
    for (long a = header + IFADDRMSG_LEN; a + NetlinkWriter.NLA_HDRLEN <= end; ) {
      int attrLength = Short.toUnsignedInt(m.get(JAVA_SHORT_UNALIGNED, a));
      int attrType = Short.toUnsignedInt(m.get(JAVA_SHORT_UNALIGNED, a + 2));
      if (attrLength < NetlinkWriter.NLA_HDRLEN || a + attrLength > end) break;
      if (attrLength == NetlinkWriter.NLA_HDRLEN + size) {
        byte[] value = m.asSlice(a + NetlinkWriter.NLA_HDRLEN, size).toArray(JAVA_BYTE);
        if (attrType == IFA_LOCAL) local = value;
        if (attrType == IFA_ADDRESS) peer = value;
      } else if (attrType == IFA_FLAGS && attrLength == NetlinkWriter.NLA_HDRLEN + 4) {
        // The 32-bit flags (ifa_flags holds only the low 8 bits).
        flags = m.get(JAVA_INT_UNALIGNED, a + NetlinkWriter.NLA_HDRLEN);
      }
      a += NetlinkWriter.align(attrLength);
    }
    // IFA_LOCAL is the device's own address; IFA_ADDRESS differs only on point-to-point links (an
    // IPv6 address has IFA_ADDRESS alone).
    byte[] bytes = local != null ? local : peer;
    if (bytes == null) return;
    sink.accept(family, prefixLength, flags, bytes);
  }
}
