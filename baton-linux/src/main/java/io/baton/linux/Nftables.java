package io.baton.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * A libnftables context (Debian package {@code libnftables1}), called through FFM: the same command
 * language as the {@code nft} tool without starting a process per command. Several commands in one
 * {@link #run} call are one netlink batch, applied atomically.
 *
 * <p>A context talks to the network namespace of the thread that created it and is confined to that
 * thread: create one per thread (and per namespace) and {@link #close} it there.
 */
public final class Nftables implements AutoCloseable {
  // nftables/libnftables.h
  private static final int NFT_CTX_DEFAULT = 0;
  public static final int OUTPUT_HANDLE = 1 << 3;
  public static final int OUTPUT_JSON = 1 << 4;
  public static final int OUTPUT_ECHO = 1 << 5;
  public static final int OUTPUT_TERSE = 1 << 11;

  private static final String LIBRARY = "libnftables.so.1";
  private static final Handles HANDLES;
  private static final Throwable UNAVAILABILITY;

  static {
    Handles h = null;
    Throwable cause = null;
    try {
      h = new Handles();
    } catch (Throwable t) {
      cause = t;
    }
    HANDLES = h;
    UNAVAILABILITY = cause;
  }

  private final MemorySegment ctx;
  private final Thread owner;
  private boolean closed;

  private Nftables(MemorySegment ctx) {
    this.ctx = ctx;
    this.owner = Thread.currentThread();
  }

  /** Whether libnftables could be loaded. */
  public static boolean isAvailable() {
    return HANDLES != null;
  }

  /** Why libnftables could not be loaded, if it could not. */
  public static Optional<Throwable> unavailabilityCause() {
    return Optional.ofNullable(UNAVAILABILITY);
  }

  /** A new context bound to the calling thread's network namespace, output and errors buffered. */
  public static Nftables open() throws LinuxException {
    if (HANDLES == null) {
      throw new LinuxException(
          "dlopen(" + LIBRARY + ")",
          "libnftables is not installed (apt-get install libnftables1): " + UNAVAILABILITY);
    }
    try {
      MemorySegment ctx = (MemorySegment) HANDLES.ctxNew.invokeExact(NFT_CTX_DEFAULT);
      if (ctx.equals(MemorySegment.NULL)) {
        throw new LinuxException("nft_ctx_new", "returned NULL");
      }
      int r1 = (int) HANDLES.bufferOutput.invokeExact(ctx);
      int r2 = (int) HANDLES.bufferError.invokeExact(ctx);
      if (r1 != 0 || r2 != 0) {
        HANDLES.ctxFree.invokeExact(ctx);
        throw new LinuxException("nft_ctx_buffer_output", "could not buffer output");
      }
      return new Nftables(ctx);
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("nft_ctx_new", t);
    }
  }

  /** Sets output flags ({@link #OUTPUT_JSON}, {@link #OUTPUT_HANDLE}, ...). */
  public void setOutputFlags(int flags) {
    checkOwner();
    try {
      HANDLES.outputSetFlags.invokeExact(ctx, flags);
    } catch (Throwable t) {
      throw new IllegalStateException("nft_ctx_output_set_flags failed", t);
    }
  }

  /**
   * Runs {@code commands} (one or more lines of nft syntax) as one batch and returns what nft
   * printed. Throws with libnftables' own error text (which quotes the failing line) on failure.
   */
  public String run(String commands) throws LinuxException {
    checkOwner();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocateFrom(commands);
      int r = (int) HANDLES.runCmdFromBuffer.invokeExact(ctx, buf);
      String out = string((MemorySegment) HANDLES.getOutputBuffer.invokeExact(ctx));
      String err = string((MemorySegment) HANDLES.getErrorBuffer.invokeExact(ctx));
      if (r != 0) {
        throw new LinuxException("nft", err.isBlank() ? "error " + r : err.strip());
      }
      return out;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("nft_run_cmd_from_buffer", t);
    }
  }

  @Override
  public void close() {
    if (closed) return;
    checkOwner();
    closed = true;
    try {
      HANDLES.ctxFree.invokeExact(ctx);
    } catch (Throwable t) {
      throw new IllegalStateException("nft_ctx_free failed", t);
    }
  }

  private void checkOwner() {
    if (closed) throw new IllegalStateException("nftables context is closed");
    if (Thread.currentThread() != owner) {
      throw new IllegalStateException(
          "nftables context belongs to thread "
              + owner.getName()
              + ", not "
              + Thread.currentThread().getName());
    }
  }

  private static String string(MemorySegment p) {
    return Libc.cString(p, Integer.MAX_VALUE);
  }

  private static final class Handles {
    final MethodHandle ctxNew;
    final MethodHandle ctxFree;
    final MethodHandle bufferOutput;
    final MethodHandle bufferError;
    final MethodHandle getOutputBuffer;
    final MethodHandle getErrorBuffer;
    final MethodHandle runCmdFromBuffer;
    final MethodHandle outputSetFlags;

    @SuppressWarnings("restricted")
    Handles() {
      Linker linker = Linker.nativeLinker();
      SymbolLookup lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
      ctxNew =
          linker.downcallHandle(find(lib, "nft_ctx_new"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
      ctxFree =
          linker.downcallHandle(find(lib, "nft_ctx_free"), FunctionDescriptor.ofVoid(ADDRESS));
      bufferOutput =
          linker.downcallHandle(
              find(lib, "nft_ctx_buffer_output"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
      bufferError =
          linker.downcallHandle(
              find(lib, "nft_ctx_buffer_error"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
      getOutputBuffer =
          linker.downcallHandle(
              find(lib, "nft_ctx_get_output_buffer"), FunctionDescriptor.of(ADDRESS, ADDRESS));
      getErrorBuffer =
          linker.downcallHandle(
              find(lib, "nft_ctx_get_error_buffer"), FunctionDescriptor.of(ADDRESS, ADDRESS));
      runCmdFromBuffer =
          linker.downcallHandle(
              find(lib, "nft_run_cmd_from_buffer"),
              FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
      outputSetFlags =
          linker.downcallHandle(
              find(lib, "nft_ctx_output_set_flags"), FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
      return lib.find(name)
          .orElseThrow(() -> new IllegalStateException(LIBRARY + " lacks " + name));
    }
  }
}
