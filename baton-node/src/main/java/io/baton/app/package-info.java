/**
 * Baton's sample HTTP/1.1 application (static files, a streaming echo, {@code /whoami}), served
 * embedded behind {@link io.baton.server.delivery.EmbeddedDelivery} or on its own address as the
 * direct baseline. Entry point: {@link io.baton.app.SampleApp}.
 */
package io.baton.app;
