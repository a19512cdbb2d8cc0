package io.baton.gateway.registration;

/**
 * The seed's ATM service classes, mapped onto what an IP network offers: a DSCP mark for the
 * routers and a pacing cap for the gateway's own sockets.
 */
public enum QosClass {
  /** Constant bit rate: Expedited Forwarding, paced at the registered rate (required). */
  CBR(46, true),
  /** Variable bit rate: AF41, paced at the registered peak rate if one is given. */
  VBR(34, false),
  /** Available bit rate: AF21, no cap unless one is given. */
  ABR(18, false),
  /** Unspecified bit rate: best effort. */
  UBR(0, false);

  private final int dscp;
  private final boolean needsRate;

  QosClass(int dscp, boolean needsRate) {
    this.dscp = dscp;
    this.needsRate = needsRate;
  }

  public int dscp() {
    return dscp;
  }

  /** Whether a registration of this class must give a rate. */
  public boolean needsRate() {
    return needsRate;
  }
}
