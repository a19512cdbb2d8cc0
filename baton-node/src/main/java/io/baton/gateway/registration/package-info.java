/**
 * The gateway's registration daemon and its tables: remote servers (or an agent for them) register
 * the address and ports to be carried over the WAN, the peer gateway near them and the transport
 * parameters; registrations are authenticated, expire unless renewed, and drive the interception
 * rules.
 */
package io.baton.gateway.registration;
