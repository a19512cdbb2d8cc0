package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** A namespace's identity is its nsfs inode, per thread. */
class NetnsIdentityTest {
  @Test
  void theIdentityIsTheInodeOfTheCallingThreadsNamespace() throws Exception {
    long root = NetnsIdentity.current();
    assertThat(Netns.current()).isEqualTo("net:[" + root + "]");
    try (PrivateNetns ns = PrivateNetns.create()) {
      long inside = ns.call(NetnsIdentity::current);
      assertThat(inside).isNotEqualTo(root);
      assertThat(Files.getAttribute(Netns.pathOf(ns.name()), "unix:ino")).isEqualTo(inside);
    }
  }
}
