package io.baton.linux;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Adds and deletes elements of existing nftables sets and maps by talking nf_tables netlink
 * directly: a few microseconds per element, where libnftables (see {@link Nftables}) re-reads its
 * cache from the kernel and parses text on every call. Tables, sets and chains are still made and
 * listed through {@link Nftables}; this class only changes elements.
 *
 * <p>Each {@link #apply} call sends one nfnetlink batch ({@code NFNL_MSG_BATCH_BEGIN}, one {@code
 * NFT_MSG_NEWSETELEM}/{@code NFT_MSG_DELSETELEM} per change, {@code NFNL_MSG_BATCH_END}) that the
 * kernel applies atomically: all changes or none. Every change asks for an acknowledgement, so a
 * failure names the change it came from and its errno ({@code ENOENT} for deleting a missing
 * element, {@code EBUSY} for adding a key that maps to other data).
 *
 * <p>Talks to the network namespace of the thread that opened it and is confined to that thread,
 * like {@link Nftables}: open it there and {@link #close} it there.
 */
public final class NfSetElements implements AutoCloseable {
  // linux/netfilter/nfnetlink.h
  private static final int NFNL_SUBSYS_NFTABLES = 10;
  private static final int NFNL_MSG_BATCH_BEGIN = 0x10; // NLMSG_MIN_TYPE
  private static final int NFNL_MSG_BATCH_END = 0x11;
  // linux/netfilter/nf_tables.h: enum nf_tables_msg_types
  private static final int NFT_MSG_GETTABLE = 1;
  private static final int NFT_MSG_NEWSETELEM = 12;
  private static final int NFT_MSG_GETSETELEM = 13;
  private static final int NFT_MSG_DELSETELEM = 14;
  // enum nft_table_attributes
  private static final int NFTA_TABLE_NAME = 1;
  private static final int NFTA_TABLE_USERDATA = 6;
  // libnftnl's udata.h: enum nftnl_udata_table_types
  private static final int NFTNL_UDATA_TABLE_COMMENT = 0;
  // enum nft_set_elem_list_attributes
  private static final int NFTA_SET_ELEM_LIST_TABLE = 1;
  private static final int NFTA_SET_ELEM_LIST_SET = 2;
  private static final int NFTA_SET_ELEM_LIST_ELEMENTS = 3;
  // enum nft_list_attributes
  private static final int NFTA_LIST_ELEM = 1;
  // enum nft_set_elem_attributes
  private static final int NFTA_SET_ELEM_KEY = 1;
  private static final int NFTA_SET_ELEM_DATA = 2;
  private static final int NFTA_SET_ELEM_TIMEOUT = 4;
  // enum nft_data_attributes
  private static final int NFTA_DATA_VALUE = 1;
  // linux/netlink.h
  private static final int NLM_F_REQUEST = 0x1;
  private static final int NLM_F_ACK = 0x4;
  private static final int NLM_F_CREATE = 0x400;
  private static final int NLM_F_DUMP = 0x300; // NLM_F_ROOT | NLM_F_MATCH
  private static final int NLM_F_DUMP_INTR = 0x10;
  private static final int NLMSG_ERROR = 0x2;
  private static final int NLMSG_DONE = 0x3;

  /** Attribute type bits that are flags, not the type (NLA_F_NESTED, NLA_F_NET_BYTEORDER). */
  private static final int NLA_TYPE_MASK = 0x3FFF;

  // linux/netfilter/nf_tables.h: NFT_NAME_MAXLEN, names include the NUL
  private static final int NAME_MAX_BYTES = 255;

  /** The kernel answers inside sendto(2); this only bounds a broken exchange. */
  private static final long REPLY_TIMEOUT_NS = 5_000_000_000L;

  private static final int NOT_ANSWERED = Integer.MIN_VALUE;
  private static final HexFormat HEX = HexFormat.of();

  /** One element change of an {@link #apply} batch. */
  public sealed interface Change permits Add, Delete {
    String set();

    byte[] key();
  }

  /**
   * Adds {@code key} (mapped to {@code data} in a map, {@code null} in a set) to {@code set}, with
   * its own {@code timeout} or, if {@code null}, the set's default. Adding an element that is
   * already there with the same data changes nothing ({@code nft add element} semantics).
   */
  public record Add(String set, byte[] key, byte[] data, Duration timeout) implements Change {
    public Add {
      Objects.requireNonNull(set, "set");
      Objects.requireNonNull(key, "key");
      if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
        throw new IllegalArgumentException("element timeout must be positive: " + timeout);
      }
    }

    /** An element of a set (no data) with the set's default timeout. */
    public Add(String set, byte[] key) {
      this(set, key, null, null);
    }
  }

  /** Deletes {@code key} from {@code set}; fails with {@code ENOENT} if it is not there. */
  public record Delete(String set, byte[] key) implements Change {
    public Delete {
      Objects.requireNonNull(set, "set");
      Objects.requireNonNull(key, "key");
    }
  }

  /** Receives the elements of a {@link #dump}, one call per element, on the dumping thread. */
  @FunctionalInterface
  public interface ElementSink {
    /** {@code data} is empty for an element of a set (not a map). */
    void accept(byte[] key, byte[] data);
  }

  /**
   * Receives the elements of a {@link #dump(String, String, String, ElementReader)} without an
   * allocation per element: {@code key} and {@code data} are buffers this object reuses, valid only
   * during the call, holding {@code keyLength} and {@code dataLength} bytes (data 0 for an element
   * of a set).
   */
  @FunctionalInterface
  public interface ElementReader {
    void accept(byte[] key, int keyLength, byte[] data, int dataLength);
  }

  private final NetlinkSocket socket;
  private final NetlinkWriter writer = new NetlinkWriter(16 * 1024);
  // A dump's element key and data, reused for every element (NFT_DATA_VALUE_MAXLEN is 64).
  private final byte[] keyBuffer = new byte[64];
  private final byte[] dataBuffer = new byte[64];
  private final Thread owner;
  // When set, any thread holding this lock may use the socket (shareUnder).
  private volatile ReentrantLock sharedUnder;
  private int nextSeq = 1;

  /** An earlier call gave up before reading all its replies; drain them before the next batch. */
  private boolean repliesPending;

  private boolean closed;

  private NfSetElements(NetlinkSocket socket) {
    this.socket = socket;
    this.owner = Thread.currentThread();
  }

  /** A netfilter netlink socket in the calling thread's network namespace. */
  public static NfSetElements open() throws LinuxException {
    return new NfSetElements(
        NetlinkSocket.open(NetlinkSocket.NETLINK_NETFILTER, "NETLINK_NETFILTER"));
  }

  /**
   * The key of an {@code ipv4_addr . inet_service} concatenation: each part padded to a 4-byte
   * register, so the address (network order), the port (network order) and two zero bytes.
   */
  public static byte[] ipv4AndPortKey(Inet4Address address, int port) {
    checkPort(port);
    byte[] key = Arrays.copyOf(address.getAddress(), 8);
    key[4] = (byte) (port >>> 8);
    key[5] = (byte) port;
    return key;
  }

  /**
   * The key of an {@code ipv4_addr . inet_service . ipv4_addr . inet_service} concatenation (a TCP
   * connection's 4-tuple): nftables loads each field of a concatenation into its own 32-bit
   * register, so every port is followed by two zero bytes and the key is 16 bytes long.
   */
  public static byte[] fourTupleKey(
      Inet4Address address1, int port1, Inet4Address address2, int port2) {
    checkPort(port1);
    checkPort(port2);
    byte[] key = new byte[16];
    System.arraycopy(address1.getAddress(), 0, key, 0, 4);
    key[4] = (byte) (port1 >>> 8);
    key[5] = (byte) port1;
    System.arraycopy(address2.getAddress(), 0, key, 8, 4);
    key[12] = (byte) (port2 >>> 8);
    key[13] = (byte) port2;
    return key;
  }

  /**
   * The key of an {@code ipv6_addr . inet_service . ipv6_addr . inet_service} concatenation (an
   * IPv6 TCP connection's 4-tuple): an IPv6 address fills four 32-bit registers, each port one with
   * two zero bytes after it, so 16 + 4 + 16 + 4 = 40 bytes.
   */
  public static byte[] fourTupleKey6(
      Inet6Address address1, int port1, Inet6Address address2, int port2) {
    checkPort(port1);
    checkPort(port2);
    byte[] key = new byte[40];
    System.arraycopy(address1.getAddress(), 0, key, 0, 16);
    key[16] = (byte) (port1 >>> 8);
    key[17] = (byte) port1;
    System.arraycopy(address2.getAddress(), 0, key, 20, 16);
    key[36] = (byte) (port2 >>> 8);
    key[37] = (byte) port2;
    return key;
  }

  /**
   * The key of an {@code ipv6_addr . inet_service} concatenation: the address (16 bytes), the port
   * and two zero bytes.
   */
  public static byte[] ipv6AndPortKey(Inet6Address address, int port) {
    checkPort(port);
    byte[] key = Arrays.copyOf(address.getAddress(), 20);
    key[16] = (byte) (port >>> 8);
    key[17] = (byte) port;
    return key;
  }

  /** The value of an {@code ipv6_addr}: 16 bytes in network order. */
  public static byte[] ipv6Value(Inet6Address address) {
    return address.getAddress();
  }

  private static void checkPort(int port) {
    if (port < 0 || port > 0xFFFF) throw new IllegalArgumentException("port out of range: " + port);
  }

  /** The value of an {@code ipv4_addr}: 4 bytes in network order. */
  public static byte[] ipv4Value(Inet4Address address) {
    return address.getAddress();
  }

  /**
   * Applies {@code changes} to the sets of {@code table} (in nft's {@code family}: "ip", "ip6",
   * "inet", "arp", "bridge" or "netdev") in one atomic batch. On failure nothing changed and the
   * exception names the first failing change.
   */
  public void apply(String family, String table, List<? extends Change> changes)
      throws LinuxException {
    checkOwner();
    int familyId = familyId(family);
    checkName(table, "table");
    if (changes.isEmpty()) return;
    int n = changes.size();
    int beginSeq = nextSeq;
    nextSeq += n + 2;
    writer.reset();
    batchMarker(NFNL_MSG_BATCH_BEGIN, beginSeq);
    for (int i = 0; i < n; i++) {
      // Only the last change asks for an acknowledgement: nf_tables reports every failing
      // message anyway, in order, before the last one's answer, so one datagram (one recv)
      // answers a successful batch instead of one per change.
      change(changes.get(i), familyId, table, beginSeq + 1 + i, i == n - 1);
    }
    batchMarker(NFNL_MSG_BATCH_END, beginSeq + n + 1);

    socket.reserve(writer.size(), n);
    if (repliesPending) socket.discardPending();
    repliesPending = true;
    socket.send(writer.written());
    int[] errors = awaitReplies(beginSeq, n);
    repliesPending = false;
    throwFirstError(errors, family, table, changes);
  }

  /**
   * Removes every element of {@code set} in one transaction: a {@code NFT_MSG_DELSETELEM} without
   * an element list, which nf_tables treats as a flush (as {@code nft flush set} sends it).
   */
  public void flush(String family, String table, String set) throws LinuxException {
    checkOwner();
    int familyId = familyId(family);
    checkName(table, "table");
    checkName(set, "set");
    int beginSeq = nextSeq;
    nextSeq += 3;
    writer.reset();
    batchMarker(NFNL_MSG_BATCH_BEGIN, beginSeq);
    int type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM;
    int message = writer.beginMessage(type, NLM_F_REQUEST | NLM_F_ACK, beginSeq + 1, familyId, 0);
    writer.putString(NFTA_SET_ELEM_LIST_TABLE, table);
    writer.putString(NFTA_SET_ELEM_LIST_SET, set);
    writer.endMessage(message);
    batchMarker(NFNL_MSG_BATCH_END, beginSeq + 2);
    socket.reserve(writer.size(), 1);
    if (repliesPending) socket.discardPending();
    repliesPending = true;
    socket.send(writer.written());
    int[] errors = awaitReplies(beginSeq, 1);
    repliesPending = false;
    if (errors[0] != 0) {
      throw new LinuxException("flush set " + family + " " + table + " " + set, errors[0]);
    }
  }

  /**
   * Reads every element of {@code set} with one {@code NFT_MSG_GETSETELEM} dump (what {@code nft
   * list set} asks the kernel for, without formatting text) and hands each to {@code sink}; returns
   * how many there were. The kernel answers in datagrams of up to 32 KiB, so a dump of a million
   * elements is a few thousand receives. Fails with {@code ENOENT} if the set does not exist, and
   * with {@code EINTR} if the set changed while it was being dumped.
   */
  public int dump(String family, String table, String set, ElementSink sink) throws LinuxException {
    return dump(
        family,
        table,
        set,
        (key, keyLength, data, dataLength) ->
            sink.accept(Arrays.copyOf(key, keyLength), Arrays.copyOf(data, dataLength)));
  }

  /**
   * {@link #dump(String, String, String, ElementSink)} for large sets: hands each element over in
   * reused buffers, so reading a million elements allocates nothing per element.
   */
  public int dump(String family, String table, String set, ElementReader reader)
      throws LinuxException {
    checkOwner();
    int familyId = familyId(family);
    checkName(table, "table");
    checkName(set, "set");
    int seq = nextSeq++;
    writer.reset();
    int type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM;
    int message = writer.beginMessage(type, NLM_F_REQUEST | NLM_F_DUMP, seq, familyId, 0);
    writer.putString(NFTA_SET_ELEM_LIST_TABLE, table);
    writer.putString(NFTA_SET_ELEM_LIST_SET, set);
    writer.endMessage(message);
    if (repliesPending) socket.discardPending();
    repliesPending = true;
    socket.send(writer.written());
    String call = "dump set " + family + " " + table + " " + set;
    int[] count = {0};
    boolean[] interrupted = {false};
    // The bound is per datagram: a million elements take many.
    socket.readReplies(
        REPLY_TIMEOUT_NS,
        true,
        m -> {
          if (m.seq() != seq) return false;
          if ((m.flags() & NLM_F_DUMP_INTR) != 0) interrupted[0] = true;
          if (m.type() == NLMSG_ERROR || m.type() == NLMSG_DONE) {
            int errno = m.errno();
            repliesPending = false;
            if (errno != 0) throw new LinuxException(call, errno);
            if (interrupted[0])
              throw new LinuxException(call + " (changed while dumped)", Errno.EINTR);
            return true;
          }
          if (m.type() == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM)) {
            count[0] +=
                elements(m.datagram(), m.payload() + NetlinkWriter.NFGENMSG_LEN, m.end(), reader);
          }
          return false;
        });
    return count[0];
  }

  /**
   * The comment of {@code table} ({@code comment "..."} in nft syntax), "" if it has none, or empty
   * if there is no such table. Asks the kernel for the table alone ({@code NFT_MSG_GETTABLE}), so
   * it costs the same however many elements its sets hold; libnftables' {@code list table}, even
   * terse, reads them all first.
   */
  public java.util.Optional<String> tableComment(String family, String table)
      throws LinuxException {
    checkOwner();
    int familyId = familyId(family);
    checkName(table, "table");
    int seq = nextSeq++;
    writer.reset();
    int type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
    int message = writer.beginMessage(type, NLM_F_REQUEST | NLM_F_ACK, seq, familyId, 0);
    writer.putString(NFTA_TABLE_NAME, table);
    writer.endMessage(message);
    if (repliesPending) socket.discardPending();
    repliesPending = true;
    socket.send(writer.written());
    String[] comment = {null};
    int[] errno = {0};
    socket.readReplies(
        REPLY_TIMEOUT_NS,
        false,
        m -> {
          if (m.seq() != seq) return false;
          if (m.type() == NLMSG_ERROR) {
            errno[0] = m.errno();
            repliesPending = false;
            return true;
          }
          MemorySegment datagram = m.datagram();
          for (long a = m.payload() + NetlinkWriter.NFGENMSG_LEN;
              a + NetlinkWriter.NLA_HDRLEN <= m.end();
              a = next(datagram, a)) {
            if (type(datagram, a) == NFTA_TABLE_USERDATA) {
              comment[0] =
                  udataComment(
                      datagram
                          .asSlice(
                              a + NetlinkWriter.NLA_HDRLEN,
                              attrLength(datagram, a) - NetlinkWriter.NLA_HDRLEN)
                          .toArray(ValueLayout.JAVA_BYTE));
            }
          }
          return false;
        });
    if (errno[0] == Errno.ENOENT) return java.util.Optional.empty();
    if (errno[0] != 0) throw new LinuxException("get table " + family + " " + table, errno[0]);
    return java.util.Optional.of(comment[0] == null ? "" : comment[0]);
  }

  /** The comment in libnftnl's user data: type-length-value records of one byte each. */
  private static String udataComment(byte[] udata) {
    for (int i = 0; i + 2 <= udata.length; ) {
      int t = udata[i] & 0xFF;
      int len = udata[i + 1] & 0xFF;
      if (i + 2 + len > udata.length) break;
      if (t == NFTNL_UDATA_TABLE_COMMENT) {
        int end = i + 2 + len;
        while (end > i + 2 && udata[end - 1] == 0) end--; // stored with its NUL
        return new String(udata, i + 2, end - i - 2, java.nio.charset.StandardCharsets.UTF_8);
      }
      i += 2 + len;
    }
    return "";
  }

  /** Walks the attributes of one dumped message, {@code [from, to)}, for its elements. */
  private int elements(MemorySegment m, long from, long to, ElementReader reader) {
    int count = 0;
    for (long a = from; a + NetlinkWriter.NLA_HDRLEN <= to; a = next(m, a)) {
      if (type(m, a) != NFTA_SET_ELEM_LIST_ELEMENTS) continue;
      long end = a + attrLength(m, a);
      for (long e = a + NetlinkWriter.NLA_HDRLEN;
          e + NetlinkWriter.NLA_HDRLEN <= end;
          e = next(m, e)) {
        if (type(m, e) != NFTA_LIST_ELEM) continue;
        int keyLength = -1;
        int dataLength = 0;
        long elemEnd = e + attrLength(m, e);
        for (long f = e + NetlinkWriter.NLA_HDRLEN;
            f + NetlinkWriter.NLA_HDRLEN <= elemEnd;
            f = next(m, f)) {
          int t = type(m, f);
          if (t == NFTA_SET_ELEM_KEY) keyLength = dataValue(m, f, keyBuffer);
          else if (t == NFTA_SET_ELEM_DATA) dataLength = dataValue(m, f, dataBuffer);
        }
        if (keyLength >= 0) {
          reader.accept(keyBuffer, keyLength, dataBuffer, dataLength);
          count++;
        }
      }
    }
    return count;
  }

  /**
   * Copies the {@code NFTA_DATA_VALUE} bytes inside the nested attribute at {@code a} into {@code
   * into}; returns their length (0 if there are none).
   */
  private static int dataValue(MemorySegment m, long a, byte[] into) {
    long end = a + attrLength(m, a);
    for (long v = a + NetlinkWriter.NLA_HDRLEN;
        v + NetlinkWriter.NLA_HDRLEN <= end;
        v = next(m, v)) {
      if (type(m, v) == NFTA_DATA_VALUE) {
        int length = Math.min(attrLength(m, v) - NetlinkWriter.NLA_HDRLEN, into.length);
        MemorySegment.copy(m, ValueLayout.JAVA_BYTE, v + NetlinkWriter.NLA_HDRLEN, into, 0, length);
        return length;
      }
    }
    return 0;
  }

  private static int attrLength(MemorySegment m, long a) {
    return Short.toUnsignedInt(m.get(ValueLayout.JAVA_SHORT_UNALIGNED, a));
  }

  private static int type(MemorySegment m, long a) {
    return Short.toUnsignedInt(m.get(ValueLayout.JAVA_SHORT_UNALIGNED, a + 2)) & NLA_TYPE_MASK;
  }

  private static long next(MemorySegment m, long a) {
    return a + NetlinkWriter.align(Math.max(attrLength(m, a), NetlinkWriter.NLA_HDRLEN));
  }

  private void batchMarker(int type, int seq) {
    // The batch is addressed to nf_tables through res_id; no acknowledgement of its own.
    int start = writer.beginMessage(type, NLM_F_REQUEST, seq, 0, NFNL_SUBSYS_NFTABLES);
    writer.endMessage(start);
  }

  private void change(Change change, int familyId, String table, int seq, boolean ack) {
    checkName(change.set(), "set");
    int type =
        (NFNL_SUBSYS_NFTABLES << 8)
            | (change instanceof Add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
    int flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0) | (change instanceof Add ? NLM_F_CREATE : 0);
    int message = writer.beginMessage(type, flags, seq, familyId, 0);
    writer.putString(NFTA_SET_ELEM_LIST_TABLE, table);
    writer.putString(NFTA_SET_ELEM_LIST_SET, change.set());
    int elements = writer.beginNest(NFTA_SET_ELEM_LIST_ELEMENTS);
    int element = writer.beginNest(NFTA_LIST_ELEM);
    putData(NFTA_SET_ELEM_KEY, change.key());
    if (change instanceof Add add) {
      if (add.data() != null) putData(NFTA_SET_ELEM_DATA, add.data());
      if (add.timeout() != null)
        writer.putBigEndianLong(NFTA_SET_ELEM_TIMEOUT, add.timeout().toMillis());
    }
    writer.endNest(element);
    writer.endNest(elements);
    writer.endMessage(message);
  }

  private void putData(int type, byte[] value) {
    int nest = writer.beginNest(type);
    writer.putBytes(NFTA_DATA_VALUE, value);
    writer.endNest(nest);
  }

  /**
   * Reads answers until the last change has its acknowledgement (only it asks for one; a failing
   * change is answered whether it asked or not, and nf_tables answers in message order); returns
   * every change's errno (0 = done). An error answering the batch header means the kernel refused
   * the whole batch.
   */
  private int[] awaitReplies(int beginSeq, int n) throws LinuxException {
    int[] errors = new int[n];
    errors[n - 1] = NOT_ANSWERED;
    // The last change's answer is the last message of the batch's reply: nothing follows it.
    socket.readReplies(
        REPLY_TIMEOUT_NS,
        false,
        m -> {
          if (m.type() != NLMSG_ERROR || m.length() < NetlinkWriter.NLMSG_HDRLEN + 4) return false;
          int errno = m.errno();
          int index = m.seq() - beginSeq - 1;
          if ((index == -1 || index == n) && errno != 0) {
            repliesPending = false; // nothing else comes for a refused batch
            throw new LinuxException("nfnetlink batch of " + n + " set element changes", errno);
          }
          if (index >= 0 && index < n - 1) errors[index] = errno;
          if (index != n - 1 || errors[index] != NOT_ANSWERED) return false;
          errors[index] = errno;
          return true;
        });
    return errors;
  }

  private static void throwFirstError(
      int[] errors, String family, String table, List<? extends Change> changes)
      throws LinuxException {
    int first = -1;
    int failed = 0;
    for (int i = 0; i < errors.length; i++) {
      if (errors[i] != 0) {
        if (first < 0) first = i;
        failed++;
      }
    }
    if (first < 0) return;
    String call = describe(family, table, changes.get(first));
    if (failed > 1) call += " (and " + (failed - 1) + " more of " + errors.length + " changes)";
    throw new LinuxException(call, errors[first]);
  }

  /**
   * The change in nft syntax, values in hex: {@code delete element netdev t s { 0xc6120007... }}.
   */
  static String describe(String family, String table, Change change) {
    StringBuilder s = new StringBuilder(change instanceof Add ? "add" : "delete");
    s.append(" element ").append(family).append(' ').append(table).append(' ').append(change.set());
    s.append(" { 0x").append(HEX.formatHex(change.key()));
    if (change instanceof Add add) {
      if (add.data() != null) s.append(" : 0x").append(HEX.formatHex(add.data()));
      if (add.timeout() != null)
        s.append(" timeout ").append(add.timeout().toMillis()).append("ms");
    }
    return s.append(" }").toString();
  }

  /** nft's family names and their {@code NFPROTO_*} values from {@code linux/netfilter.h}. */
  static int familyId(String family) {
    return switch (family) {
      case "inet" -> 1;
      case "ip" -> 2;
      case "arp" -> 3;
      case "netdev" -> 5;
      case "bridge" -> 7;
      case "ip6" -> 10;
      default -> throw new IllegalArgumentException("unknown nftables family: '" + family + "'");
    };
  }

  private static void checkName(String name, String what) {
    if (name.isEmpty() || name.length() > NAME_MAX_BYTES || name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("invalid " + what + " name: '" + name + "'");
    }
  }

  @Override
  public void close() throws LinuxException {
    if (closed) return;
    checkOwner();
    closed = true;
    socket.close();
  }

  /**
   * From now on any thread may use this socket while it holds {@code lock}, instead of only the
   * thread that opened it: for an owner that serializes its callers with that lock. A call without
   * it fails as a call from a foreign thread does.
   */
  public void shareUnder(ReentrantLock lock) {
    checkOwner();
    sharedUnder = Objects.requireNonNull(lock, "lock");
  }

  private void checkOwner() {
    if (closed) throw new IllegalStateException("netlink set element socket is closed");
    ReentrantLock lock = sharedUnder;
    if (lock != null) {
      if (!lock.isHeldByCurrentThread()) {
        throw new IllegalStateException(
            "netlink set element socket used by thread "
                + Thread.currentThread().getName()
                + " without holding the lock it is shared under");
      }
      return;
    }
    if (Thread.currentThread() != owner) {
      throw new IllegalStateException(
          "netlink set element socket belongs to thread "
              + owner.getName()
              + ", not "
              + Thread.currentThread().getName());
    }
  }
}
