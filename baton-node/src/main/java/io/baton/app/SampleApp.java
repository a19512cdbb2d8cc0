package io.baton.app;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Baton's sample application: a small HTTP/1.1 server for demos and tests, run either embedded (a
 * server agent hands it restored connections through {@link
 * io.baton.server.delivery.EmbeddedDelivery}) or listening on its own address (the "direct-app"
 * baseline that benchmarks compare the farm against).
 *
 * <ul>
 *   <li>{@code GET|HEAD /path}: static files under the root ({@link StaticFiles}), zero-copy where
 *       the transport allows it.
 *   <li>{@code POST /echo}: the request body streamed back as it arrives ({@link EchoExchange}),
 *       never held whole in memory.
 *   <li>{@code GET|HEAD /whoami}: the node name, so routing tests can tell which server answered.
 *   <li>{@code GET|HEAD /cached/KEY}: a generated object from a bounded cache ({@link
 *       ContentCache}), when the app has one.
 * </ul>
 *
 * Connections can move to another server between requests and in the middle of a file download
 * ({@link MigrationPoint}, live migration).
 *
 * <p>Keep-alive, pipelining, HTTP/1.0, {@code Expect: 100-continue} and chunked request bodies are
 * handled by Netty's codec and keep-alive handler; request heads are bounded (431 / 414 / 400). A
 * client that half-closes after its requests gets every answer, then the connection closes ({@link
 * CloseWhenInputEnds}; the channel must allow half-closure, as {@link #listen} and {@link
 * io.baton.server.delivery.EmbeddedDelivery} set it).
 *
 * <p>Immutable and thread-safe; one instance serves any number of channels.
 */
public final class SampleApp {
  /** Longest request line accepted; longer gets 414. */
  public static final int MAX_REQUEST_LINE_BYTES = 16_384;

  /** Largest header block accepted; larger gets 431. */
  public static final int MAX_HEADER_BYTES = 8192;

  /**
   * The pipeline's request decoder and response encoder (separate, so the decoder can tell its
   * boundaries).
   */
  static final String DECODER = "http-decoder";

  static final String ENCODER = "http-encoder";

  /** Largest body piece the codec hands up at once. */
  public static final int MAX_CHUNK_BYTES = 64 * 1024;

  private final Path root;
  private final String nodeName;
  private final ContentCache cache;

  /**
   * @param root directory whose files are served; must exist
   * @param nodeName what {@code /whoami} answers
   */
  public SampleApp(Path root, String nodeName) {
    this(root, nodeName, null);
  }

  /**
   * @param cache serves {@code GET /cached/KEY} (locality benchmarks); null: no such route
   */
  public SampleApp(Path root, String nodeName, ContentCache cache) {
    this.cache = cache;
    Objects.requireNonNull(root, "root");
    this.nodeName = Objects.requireNonNull(nodeName, "nodeName");
    if (!Files.isDirectory(root)) {
      throw new IllegalArgumentException("sample app root is not a directory: " + root);
    }
    try {
      this.root = root.toRealPath();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot resolve sample app root " + root, e);
    }
  }

  /** Shorthand for {@code new SampleApp(root, nodeName).initializer()}. */
  public static ChannelInitializer<Channel> initializer(Path root, String nodeName) {
    return new SampleApp(root, nodeName).initializer();
  }

  /** Sets up a channel's pipeline for this application; shareable between channels. */
  public ChannelInitializer<Channel> initializer() {
    StaticFiles files = new StaticFiles(root);
    return new ChannelInitializer<>() {
      @Override
      protected void initChannel(Channel ch) {
        ChannelPipeline p = ch.pipeline();
        p.addLast(
            DECODER,
            new BoundaryAwareRequestDecoder(
                new HttpDecoderConfig()
                    .setMaxInitialLineLength(MAX_REQUEST_LINE_BYTES)
                    .setMaxHeaderSize(MAX_HEADER_BYTES)
                    .setMaxChunkSize(MAX_CHUNK_BYTES)));
        p.addLast(ENCODER, new HttpResponseEncoder());
        p.addLast("migration", new MigrationPoint(files));
        p.addLast("keep-alive", new HttpServerKeepAliveHandler());
        p.addLast("continue", new HttpServerExpectContinueHandler());
        p.addLast("chunked", new ChunkedWriteHandler());
        p.addLast("backpressure", new WriteBackpressure());
        p.addLast("router", new RequestRouter(files, nodeName, cache));
        p.addLast("close-when-input-ends", CloseWhenInputEnds.INSTANCE);
      }
    };
  }

  /**
   * Listens on {@code address} with this application (epoll transport), bound when this returns.
   * Close the returned channel to stop listening.
   *
   * @param group an epoll event loop group; serves both the listener and its connections
   */
  public Channel listen(EventLoopGroup group, InetSocketAddress address) {
    return new ServerBootstrap()
        .group(group)
        .channel(EpollServerSocketChannel.class)
        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .childHandler(
            new ChannelInitializer<>() {
              @Override
              protected void initChannel(Channel ch) {
                ch.pipeline().addLast(io.baton.netty.KeepEpollRegistered.INSTANCE, initializer());
              }
            })
        .bind(address)
        .syncUninterruptibly()
        .channel();
  }

  public Path root() {
    return root;
  }

  public String nodeName() {
    return nodeName;
  }
}
