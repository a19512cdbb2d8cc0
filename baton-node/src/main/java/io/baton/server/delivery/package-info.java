/**
 * Server side, last step of a handoff: how a restored connection reaches the application.
 *
 * <p>{@link io.baton.server.delivery.Delivery} has two forms: {@link
 * io.baton.server.delivery.RelayDelivery} splices the connection zero-copy to an unmodified local
 * upstream server; {@link io.baton.server.delivery.EmbeddedDelivery} adopts it as a Netty channel
 * of an application in this JVM. Either reports the end of the connection, with byte counts, to a
 * {@link io.baton.server.delivery.CloseListener} exactly once.
 */
package io.baton.server.delivery;
