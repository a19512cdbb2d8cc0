/**
 * The WAN leg between two gateways: a trunk of N parallel TCP connections, each tuned as the
 * registration asks (congestion control, buffers, pacing, DSCP), that carries many client streams
 * as sequenced frames striped over its connections and reassembled in order at the other end, with
 * per-stream credit so that a slow reader never makes a gateway buffer without bound.
 */
package io.baton.gateway.wan;
