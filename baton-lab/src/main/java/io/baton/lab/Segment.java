package io.baton.lab;

/**
 * One layer-2 network of a lab: a Linux bridge in the lab's switch namespace. Hosts join it with
 * {@link Host#attach}; the interface inside each host carries the segment's name. Immutable.
 */
public final class Segment {
  private final Lab lab;
  private final String name;

  Segment(Lab lab, String name) {
    this.lab = lab;
    this.name = name;
  }

  /** The segment's name, also the name of the interface in each attached host. */
  public String name() {
    return name;
  }

  /** The bridge's name inside the lab's switch namespace. */
  public String bridgeName() {
    return "br-" + name;
  }

  Lab lab() {
    return lab;
  }

  @Override
  public String toString() {
    return "segment " + name + " of " + lab;
  }
}
