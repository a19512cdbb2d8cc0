/**
 * The local dispatch layer (seed 004): several worker processes of one application behind one VIP
 * port on a server. The agent restores each connection and chooses a worker for it by load and
 * health; existing connections stay where they are while workers are added, drained, reweighted
 * (blue/green) or lost.
 */
package io.baton.server.workers;
