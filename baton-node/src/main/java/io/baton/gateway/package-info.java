/**
 * The WAN gateway role (seed 003): a split-TCP proxy between a LAN and a WAN. Remote servers
 * register with the gateway ({@link io.baton.gateway.registration}); the gateway then transparently
 * terminates LAN clients' connections to them (nftables TPROXY) and carries the bytes over the WAN
 * to a peer gateway near the server with the registered transport parameters ({@link
 * io.baton.gateway.wan}). Traffic to unregistered addresses is routed by the kernel, untouched.
 *
 * <p>One Netty event loop owns every channel, trunk and stream of a gateway: no state here is
 * shared between threads except the registration table, which is thread-safe.
 */
package io.baton.gateway;
