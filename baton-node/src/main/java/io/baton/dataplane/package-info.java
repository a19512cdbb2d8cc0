/**
 * The kernel data plane that Baton programs, in one place: the dispatcher's forwarding table
 * (nftables netdev ingress/egress on the front interface: 4-tuple entries that carry a handed-off
 * connection's later packets to its server, the output drop of a connection in transit) and the
 * thread that owns it, the table's per-namespace lock, the server's VIP guard (drop VIP packets
 * that no Baton socket owns, so they are retransmitted rather than reset) and the server host's
 * preparation (VIP on lo, ARP and reverse-path settings). Kernel calls go through baton-linux.
 */
package io.baton.dataplane;
