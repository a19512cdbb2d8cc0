package io.baton.handoff;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/**
 * A dispatcher played by hand over a blocking loopback socket, so that tests can send exactly the
 * bytes they want: captured, replayed, altered or garbage. Reads time out after 10 s. Confined to
 * the test thread.
 */
final class RawDispatcher implements AutoCloseable {
  final DispatcherFrames frames;
  private final Socket socket;
  private final DataInputStream in;
  private final OutputStream out;

  RawDispatcher(InetSocketAddress server, byte[] key) throws IOException {
    frames = new DispatcherFrames(key);
    socket = new Socket();
    socket.connect(server, 10_000);
    socket.setSoTimeout(10_000);
    socket.setTcpNoDelay(true);
    in = new DataInputStream(socket.getInputStream());
    out = socket.getOutputStream();
  }

  /** Sends our HELLO and verifies the server's. */
  RawDispatcher handshake() throws Exception {
    send(frames.hello("raw-dispatcher"));
    FabricMessage reply = frames.open(readFrame());
    if (!(reply instanceof FabricMessage.Hello)) throw new AssertionError("got " + reply);
    // Every session starts with the server's inventory of this dispatcher's connections.
    FabricMessage inventory = frames.open(readFrame());
    if (!(inventory instanceof FabricMessage.Inventory i && i.last())) {
      throw new AssertionError("expected the inventory, got " + inventory);
    }
    return this;
  }

  DispatcherFrames frames() {
    return frames;
  }

  void send(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** The next frame from the server, length field included. */
  byte[] readFrame() throws IOException {
    int length = in.readInt();
    byte[] frame = new byte[4 + length];
    in.readFully(frame, 4, length);
    frame[0] = (byte) (length >>> 24);
    frame[1] = (byte) (length >>> 16);
    frame[2] = (byte) (length >>> 8);
    frame[3] = (byte) length;
    return frame;
  }

  FabricMessage read() throws Exception {
    return frames.open(readFrame());
  }

  /** Whether the server closed the connection (EOF or reset) before sending anything more. */
  boolean closedByServer() throws IOException {
    try {
      return in.read() == -1;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (SocketException e) {
      return true; // reset: the server closed with our bytes still unread
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
