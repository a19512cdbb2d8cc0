/**
 * Pure routing logic, shared by the dispatcher (a connection's first request) and the server (every
 * later request of a keep-alive connection, {@code reroute: per-request}): reading the first bytes
 * of a connection (an HTTP/1.x request head or a TLS ClientHello), choosing a pool by content
 * ({@link io.baton.routing.Router}) and a member within it ({@link io.baton.routing.Balancer}).
 *
 * <p>Nothing here touches the network or Netty: inputs are plain {@code byte[]}/{@link
 * java.nio.ByteBuffer}s and strings, so every decision is covered by table-driven unit tests.
 * Parsers are confined to one connection's thread; routers, pools and balancers are shared by all
 * event-loop threads and say so in their docs.
 */
package io.baton.routing;
