/**
 * Netty pieces every role shares: workarounds (see each class for the bug it works around and how
 * to tell when it can go) and the UDP sockets bound on VIPs.
 */
package io.baton.netty;
