package io.baton.handoff;

import io.baton.handoff.FabricMessage.Abort;
import io.baton.handoff.FabricMessage.Aborted;
import io.baton.handoff.FabricMessage.Accepted;
import io.baton.handoff.FabricMessage.Closed;
import io.baton.handoff.FabricMessage.Handoff;
import io.baton.handoff.FabricMessage.Heartbeat;
import io.baton.handoff.FabricMessage.Hello;
import io.baton.handoff.FabricMessage.Inventory;
import io.baton.handoff.FabricMessage.LoadReport;
import io.baton.handoff.FabricMessage.Refused;
import io.baton.transplant.FlowKey;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import java.net.InetAddress;

/**
 * The payload of each {@link FabricMessage} — the bytes between a frame's header and its MAC (the
 * frame around it is described in {@link FabricFrame}). Integers are big-endian; a string is an
 * unsigned 16-bit length and that many bytes of UTF-8, capped per field; a blob is an unsigned
 * 32-bit length and the bytes.
 *
 * <pre>
 *  HELLO        nonce[16] nodeName:str maxFrameBytes:i32 (not negative; 0: not said)
 *  HANDOFF      handoffId:i64 vip:str pool:str requestSummary:str state:blob
 *  MIGRATE      as HANDOFF, then appState:blob (1..65536 bytes; empty travels as HANDOFF)
 *  ACCEPTED     handoffId:i64
 *  REFUSED      handoffId:i64 reason:str
 *  CLOSED       clientIp[4] clientPort:u16 localIp[4] localPort:u16 handoffId:i64
 *               bytesFromClient:i64 bytesToClient:i64     (counts not negative)
 *  ABORT        handoffId:i64
 *  ABORTED      handoffId:i64
 *  HEARTBEAT    (empty)
 *  INVENTORY    last:u8 (0|1) count:i32 (0..8192), then count times
 *               clientIp[4] clientPort:u16 localIp[4] localPort:u16 handoffId:i64
 *  LOAD_REPORT  nodeName:str activeConnections:i32 acceptedTotal:i64 closedTotal:i64
 *                                                          (none negative)
 * </pre>
 *
 * <p>Nothing may follow the last field. Decoding refuses anything else with a {@link
 * FrameFormatException}; a decoded message re-encodes to the identical bytes.
 *
 * <p>Stateless; safe to call from any thread on buffers the caller owns.
 */
final class FabricMessageCodec {
  private FabricMessageCodec() {}

  /** The exact number of payload bytes {@link #encode} writes for {@code m}. */
  static long payloadLength(FabricMessage m) {
    return switch (m) {
      case Hello h -> FabricMessage.NONCE_BYTES + stringLength(h.nodeName()) + Integer.BYTES;
      case Handoff h ->
          Long.BYTES
              + stringLength(h.vip())
              + stringLength(h.pool())
              + stringLength(h.requestSummary())
              + Integer.BYTES
              + (long) h.state().length
              + (h.appState().length > 0 ? Integer.BYTES + h.appState().length : 0);
      case Accepted _ -> Long.BYTES;
      case Refused r -> Long.BYTES + stringLength(r.reason());
      case Closed c -> flowBytes(c.flow()) + 3 * Long.BYTES;
      case Abort _ -> Long.BYTES;
      case Aborted _ -> Long.BYTES;
      case Heartbeat _ -> 0;
      case Inventory i -> {
        long n = 1 + Integer.BYTES + (long) i.owned().size() * (FLOW_BYTES + Long.BYTES);
        for (FabricMessage.Owned o : i.owned()) if (o.flow().ipv6()) n += FLOW6_EXTRA_BYTES;
        yield n;
      }
      case LoadReport r -> stringLength(r.nodeName()) + Integer.BYTES + 2 * Long.BYTES;
    };
  }

  /** Writes the payload of {@code m} at {@code out}'s writer index. */
  static void encode(FabricMessage m, ByteBuf out) {
    switch (m) {
      case Hello h -> {
        out.writeBytes(h.nonce());
        writeString(out, h.nodeName());
        out.writeInt(h.maxFrameBytes());
      }
      case Handoff h -> {
        out.writeLong(h.handoffId());
        writeString(out, h.vip());
        writeString(out, h.pool());
        writeString(out, h.requestSummary());
        out.writeInt(h.state().length);
        out.writeBytes(h.state());
        if (h.appState().length > 0) {
          out.writeInt(h.appState().length);
          out.writeBytes(h.appState());
        }
      }
      case Accepted a -> out.writeLong(a.handoffId());
      case Refused r -> {
        out.writeLong(r.handoffId());
        writeString(out, r.reason());
      }
      case Closed c -> {
        writeFlow(out, c.flow());
        out.writeLong(c.handoffId());
        out.writeLong(c.bytesFromClient());
        out.writeLong(c.bytesToClient());
      }
      case LoadReport r -> {
        writeString(out, r.nodeName());
        out.writeInt(r.activeConnections());
        out.writeLong(r.acceptedTotal());
        out.writeLong(r.closedTotal());
      }
      case Abort a -> out.writeLong(a.handoffId());
      case Aborted a -> out.writeLong(a.handoffId());
      case Heartbeat _ -> {}
      case Inventory i -> {
        out.writeByte(i.last() ? 1 : 0);
        out.writeInt(i.owned().size());
        for (FabricMessage.Owned o : i.owned()) {
          writeFlow(out, o.flow());
          out.writeLong(o.handoffId());
        }
      }
    }
  }

  private static final int FLOW_BYTES = 2 * (4 + 2);

  /**
   * An IPv6 flow: a 6-byte escape (client 0.0.0.0, port 0: no IPv4 flow has it, and a node of an
   * earlier build refuses it as "clientIp 0.0.0.0 / clientPort is 0" instead of misreading it),
   * then client address, port, local address, port (16 + 2 + 16 + 2 bytes). IPv4 flows keep their
   * 12 bytes, so IPv4 frames are what they were.
   */
  private static final int FLOW6_BYTES = 6 + 2 * (16 + 2);

  private static final int FLOW6_EXTRA_BYTES = FLOW6_BYTES - FLOW_BYTES;

  private static int flowBytes(FlowKey f) {
    return f.ipv6() ? FLOW6_BYTES : FLOW_BYTES;
  }

  private static void writeFlow(ByteBuf out, FlowKey f) {
    if (f.ipv6()) {
      out.writeZero(6);
    }
    out.writeBytes(f.clientIp().getAddress());
    out.writeShort(f.clientPort());
    out.writeBytes(f.localIp().getAddress());
    out.writeShort(f.localPort());
  }

  private static FlowKey readFlow(PayloadReader in) throws FrameFormatException {
    byte[] first = in.readBytes(4, "clientIp");
    int firstPort = in.readUnsignedShort("clientPort");
    InetAddress clientIp;
    int clientPort;
    InetAddress localIp;
    int localPort;
    if (firstPort == 0 && java.util.Arrays.equals(first, new byte[4])) {
      clientIp = in.readIpv6("clientIp");
      clientPort = in.readPort("clientPort");
      localIp = in.readIpv6("localIp");
      localPort = in.readPort("localPort");
    } else {
      if (firstPort == 0) throw in.refuse("clientPort is 0");
      clientIp = PayloadReader.ipv4(first);
      clientPort = firstPort;
      localIp = in.readIpv4("localIp");
      localPort = in.readPort("localPort");
    }
    try {
      return new FlowKey(clientIp, clientPort, localIp, localPort);
    } catch (IllegalArgumentException e) {
      throw in.refuse("flow: " + e.getMessage());
    }
  }

  /** Decodes a whole payload of the given type; reads {@code payload} to its end. */
  static FabricMessage decode(MessageType type, ByteBuf payload) throws FrameFormatException {
    PayloadReader in = new PayloadReader(payload, type);
    FabricMessage m;
    try {
      m =
          switch (type) {
            case HELLO -> {
              byte[] nonce = in.readBytes(FabricMessage.NONCE_BYTES, "nonce");
              String node = readNodeName(in);
              yield new Hello(node, nonce, in.readNotNegativeInt("maxFrameBytes"));
            }
            case HANDOFF, MIGRATE -> {
              long id = in.readLong("handoffId");
              String vip = in.readString("vip", FabricMessage.MAX_VIP_BYTES);
              String pool = in.readString("pool", FabricMessage.MAX_POOL_BYTES);
              String summary =
                  in.readString("requestSummary", FabricMessage.MAX_REQUEST_SUMMARY_BYTES);
              byte[] state = in.readBlob("state");
              if (type == MessageType.HANDOFF) yield new Handoff(id, state, vip, pool, summary);
              byte[] appState = in.readBlob("appState");
              if (appState.length == 0)
                throw in.refuse("appState is empty (a handoff without it is a HANDOFF)");
              if (appState.length > FabricMessage.MAX_APP_STATE_BYTES) {
                throw in.refuse(
                    "appState is "
                        + appState.length
                        + " bytes, more than "
                        + FabricMessage.MAX_APP_STATE_BYTES);
              }
              yield new Handoff(id, state, vip, pool, summary, appState);
            }
            case ACCEPTED -> new Accepted(in.readLong("handoffId"));
            case REFUSED ->
                new Refused(
                    in.readLong("handoffId"),
                    in.readString("reason", FabricMessage.MAX_REASON_BYTES));
            case CLOSED -> {
              FlowKey flow = readFlow(in);
              yield new Closed(
                  flow,
                  in.readLong("handoffId"),
                  in.readNotNegativeLong("bytesFromClient"),
                  in.readNotNegativeLong("bytesToClient"));
            }
            case ABORT -> new Abort(in.readLong("handoffId"));
            case ABORTED -> new Aborted(in.readLong("handoffId"));
            case HEARTBEAT -> new Heartbeat();
            case INVENTORY -> {
              int last = in.readUnsignedByte("last");
              if (last > 1) throw in.refuse("last is " + last + ", not 0 or 1");
              int count = in.readNotNegativeInt("count");
              if (count > FabricMessage.MAX_INVENTORY_ENTRIES) {
                throw in.refuse(
                    "count " + count + " exceeds " + FabricMessage.MAX_INVENTORY_ENTRIES);
              }
              var owned = new java.util.ArrayList<FabricMessage.Owned>(count);
              for (int k = 0; k < count; k++) {
                FlowKey flow = readFlow(in);
                owned.add(new FabricMessage.Owned(flow, in.readLong("handoffId")));
              }
              yield new Inventory(owned, last == 1);
            }
            case LOAD_REPORT ->
                new LoadReport(
                    readNodeName(in),
                    in.readNotNegativeInt("activeConnections"),
                    in.readNotNegativeLong("acceptedTotal"),
                    in.readNotNegativeLong("closedTotal"));
          };
    } catch (IllegalArgumentException e) {
      // Backstop: the reader checks every limit the constructors check, but a record must never
      // turn bad input into an unchecked exception.
      throw in.refuse(e.getMessage());
    }
    in.expectEnd();
    return m;
  }

  private static String readNodeName(PayloadReader in) throws FrameFormatException {
    String name = in.readString("nodeName", FabricMessage.MAX_NODE_NAME_BYTES);
    if (name.isEmpty()) throw in.refuse("nodeName is empty");
    return name;
  }

  /**
   * {@code s} cut to at most {@code maxBytes} of UTF-8 without splitting a character, for text that
   * comes from elsewhere (an exception's message) and must fit a field.
   */
  static String fitUtf8(String s, int maxBytes) {
    int bytes = 0;
    int end = 0;
    while (end < s.length()) {
      int cp = s.codePointAt(end);
      int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (bytes + n > maxBytes) break;
      bytes += n;
      end += Character.charCount(cp);
    }
    return s.substring(0, end);
  }

  private static int stringLength(String s) {
    return Short.BYTES + ByteBufUtil.utf8Bytes(s);
  }

  private static void writeString(ByteBuf out, String s) {
    int lengthAt = out.writerIndex();
    out.writeShort(0);
    int written = ByteBufUtil.writeUtf8(out, s);
    out.setShort(lengthAt, written);
  }
}
