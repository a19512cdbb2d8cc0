/**
 * The sync plane: farm state over the sync network, on JGroups. Every node joins one cluster bound
 * to its sync address ({@link SyncPlane}); the cluster key admits it ({@link ClusterKeyToken},
 * JGroups' AUTH) and encrypts every message (JGroups' SYM_ENCRYPT, a key derived from the cluster
 * key by {@link SyncKeys}). Each node publishes a small, HMAC-sealed load report a few times a
 * second ({@link NodeReport}, {@link SyncCodec}); {@link FarmState} keeps the latest report of each
 * member of the view and answers, from an immutable {@link FarmSnapshot}, whether a node may get
 * new connections now (in the view, reporting, healthy, not draining). Membership and failure
 * detection are JGroups' own (TCPPING, FD_SOCK2, FD_ALL3, VERIFY_SUSPECT2, MERGE3); Baton adds only
 * the staleness of reports, which catches a frozen process whose kernel still keeps its TCP
 * connections up.
 */
package io.baton.sync;
