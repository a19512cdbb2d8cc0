/**
 * The handoff protocol: authenticated binary messages on the fabric network between dispatchers and
 * server agents.
 *
 * <p>A dispatcher keeps one persistent TCP connection to each server agent ({@link
 * io.baton.handoff.HandoffClient}); each agent accepts connections from every dispatcher ({@link
 * io.baton.handoff.HandoffServer}). Over it the dispatcher sends HANDOFF (the frozen connection's
 * state and the request's routing metadata) and the server answers ACCEPTED or REFUSED; the server
 * also sends CLOSED when a connection it owns ends, and LOAD_REPORT. The messages are {@link
 * io.baton.handoff.FabricMessage} records.
 *
 * <p>Security: a forged HANDOFF is a connection hijack. Every frame carries an HMAC-SHA256 tag
 * under the cluster key that covers the sender's direction, both sides' fresh HELLO nonces and a
 * per-direction sequence number, so a frame altered, replayed, reordered, reflected or copied from
 * another session fails verification; the connection is then closed, counted and logged. Frames are
 * length-prefixed with a configurable limit that is enforced before anything is buffered, and only
 * HELLO-sized frames are accepted until the HELLO exchange has verified. The frame layout is
 * documented in {@code FabricFrame}, the payloads in {@code FabricMessageCodec}.
 *
 * <p>Both endpoints run on a caller-supplied epoll {@code EventLoopGroup}; each connection's
 * protocol state is confined to its event loop.
 */
package io.baton.handoff;
