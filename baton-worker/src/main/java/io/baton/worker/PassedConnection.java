package io.baton.worker;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * A client's TCP connection that a server agent passed to this worker: a connected, blocking socket
 * descriptor whose receive queue may already hold the client's first bytes. Read and write it
 * through {@link #input()} and {@link #output()} (blocking, counted), or take {@link #fd()} to your
 * own I/O (a Netty {@code new EpollSocketChannel(fd)}, say) and report the counts to {@link
 * #close(long, long)}.
 *
 * <p>Close it exactly when done: the agent learns the connection is over only from the close. One
 * reader and one writer at a time; {@link #close} from any thread.
 */
public final class PassedConnection implements AutoCloseable {
  private final long id;
  private final InetSocketAddress client;
  private final InetSocketAddress vip;
  private final int fd;
  private final java.util.function.Consumer<PassProtocol.Closed> onClose;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final LongAdder in = new LongAdder();
  private final LongAdder out = new LongAdder();
  private final InputStream input = new Input();
  private final OutputStream output = new Output();

  PassedConnection(
      PassProtocol.Conn conn, int fd, java.util.function.Consumer<PassProtocol.Closed> onClose) {
    this.id = conn.id();
    this.client = conn.client();
    this.vip = conn.vip();
    this.fd = fd;
    this.onClose = onClose;
  }

  /** The agent's number for this connection (unique per link). */
  public long id() {
    return id;
  }

  /** The client's address and port, as the socket sees its peer. */
  public InetSocketAddress client() {
    return client;
  }

  /** The VIP and port the client connected to (the socket's local address). */
  public InetSocketAddress vip() {
    return vip;
  }

  /** The socket; owned by this object until {@link #close}. */
  public int fd() {
    return fd;
  }

  /** Reads the client's bytes (blocking); -1 when the client has finished sending. */
  public InputStream input() {
    return input;
  }

  /** Writes to the client (blocking until the kernel took every byte). */
  public OutputStream output() {
    return output;
  }

  /** Half-closes: the client reads the end of the response after every byte written. */
  public void shutdownOutput() throws IOException {
    Sockets.shutdown(fd, Sockets.SHUT_WR);
  }

  /** Closes the socket and tells the agent, with the bytes moved through the streams. */
  @Override
  public void close() {
    close(in.sum(), out.sum());
  }

  /** Closes the socket and tells the agent, with counts from the caller's own I/O. */
  public void close(long bytesIn, long bytesOut) {
    if (!closed.compareAndSet(false, true)) return;
    Sockets.closeQuietly(fd);
    onClose.accept(new PassProtocol.Closed(id, bytesIn, bytesOut));
  }

  @Override
  public String toString() {
    return "connection "
        + id
        + " from "
        + client.getAddress().getHostAddress()
        + ":"
        + client.getPort();
  }

  private final class Input extends InputStream {
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment buffer = arena.allocate(64 * 1024);

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) return 0;
      int n = recv(buffer.asSlice(0, Math.min(len, buffer.byteSize())));
      if (n == 0) return -1;
      MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, b, off, n);
      in.add(n);
      return n;
    }

    private int recv(MemorySegment into) throws LinuxException {
      while (true) {
        int n = Sockets.recv(fd, into, 0);
        if (n >= 0) return n;
        // -1: EAGAIN on a socket someone made non-blocking; wait for it.
        Sockets.poll(fd, Sockets.POLLIN, 1000);
      }
    }
  }

  private final class Output extends OutputStream {
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment buffer = arena.allocate(64 * 1024);

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      while (len > 0) {
        int chunk = (int) Math.min(len, buffer.byteSize());
        MemorySegment.copy(b, off, buffer, ValueLayout.JAVA_BYTE, 0, chunk);
        int done = 0;
        while (done < chunk) {
          int n = Sockets.send(fd, buffer.asSlice(done, chunk - done), Sockets.MSG_NOSIGNAL);
          if (n < 0) {
            Sockets.poll(fd, Sockets.POLLOUT, 1000);
            continue;
          }
          done += n;
        }
        out.add(chunk);
        off += chunk;
        len -= chunk;
      }
    }
  }
}
