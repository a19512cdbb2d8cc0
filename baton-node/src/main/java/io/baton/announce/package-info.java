/**
 * How a dispatcher tells the network where its VIPs are: BGP from a real routing daemon (BIRD 2,
 * Debian's {@code bird2}) that Baton configures and runs as its child. Each VIP address goes out as
 * a /32 while the dispatcher runs; a clean stop ends the sessions first (withdrawing the routes
 * before the listeners close), and a killed dispatcher's BIRD gets SIGTERM from the kernel
 * (parent-death signal) and withdraws them too. A router that spreads clients over the dispatchers
 * by ECMP then sends each flow to a live one.
 */
package io.baton.announce;
