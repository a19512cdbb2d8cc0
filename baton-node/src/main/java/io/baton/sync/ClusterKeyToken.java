package io.baton.sync;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.security.MessageDigest;
import org.jgroups.Message;
import org.jgroups.auth.AuthToken;

/**
 * The token a node shows JGroups' AUTH when it joins: a secret derived from the cluster key ({@link
 * SyncKeys#joinSecret}). The coordinator admits only nodes that show the same one. The token
 * travels inside SYM_ENCRYPT's encryption, under another key derived from the same cluster key.
 * JGroups makes the received copy with the no-argument constructor and reads it in.
 */
public final class ClusterKeyToken extends AuthToken {
  private static final int SECRET_BYTES = 32;
  private byte[] secret = new byte[0];

  /** For JGroups, which reads a received token into a new instance. */
  public ClusterKeyToken() {}

  ClusterKeyToken(SyncKeys keys) {
    this.secret = keys.joinSecret();
  }

  @Override
  public String getName() {
    return ClusterKeyToken.class.getName();
  }

  @Override
  public int size() {
    return 1 + secret.length;
  }

  @Override
  public boolean authenticate(AuthToken token, Message msg) {
    return token instanceof ClusterKeyToken other
        && secret.length == SECRET_BYTES
        && MessageDigest.isEqual(secret, other.secret);
  }

  @Override
  public void writeTo(DataOutput out) throws IOException {
    out.writeByte(secret.length);
    out.write(secret);
  }

  @Override
  public void readFrom(DataInput in) throws IOException {
    int n = in.readUnsignedByte();
    if (n != SECRET_BYTES) throw new IOException("join token of " + n + " bytes");
    secret = new byte[n];
    in.readFully(secret);
  }

  @Override
  public String toString() {
    return "ClusterKeyToken[(secret)]";
  }
}
