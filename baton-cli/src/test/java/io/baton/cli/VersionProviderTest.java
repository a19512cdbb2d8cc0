package io.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Properties;
import org.junit.jupiter.api.Test;

class VersionProviderTest {
  private static Properties of(String commit, String time, String dirty) {
    Properties p = new Properties();
    p.setProperty("version", "0.1.0");
    p.setProperty("commit", commit);
    p.setProperty("commitTime", time);
    p.setProperty("dirty", dirty);
    return p;
  }

  @Test
  void theCommitIsNamedWithItsTimeAndWhetherTheTreeWasChanged() {
    assertThat(VersionProvider.commit(of("0123456789ab", "2026-11-30T10:48:52Z", "false")))
        .isEqualTo("commit 0123456789ab of 2026-11-30T10:48:52Z");
    assertThat(VersionProvider.commit(of("0123456789ab", "2026-11-30T10:48:52Z", "true")))
        .isEqualTo("commit 0123456789ab of 2026-11-30T10:48:52Z, with uncommitted changes");
  }

  @Test
  void aBuildOutsideAGitCloneSaysSoInsteadOfPrintingAPlaceholder() {
    assertThat(
            VersionProvider.commit(
                of("${git.commit.id.abbrev}", "${git.commit.time}", "${git.dirty}")))
        .isEqualTo("commit unknown: not built from a git clone");
    assertThat(VersionProvider.commit(new Properties()))
        .isEqualTo("commit unknown: not built from a git clone");
  }
}
