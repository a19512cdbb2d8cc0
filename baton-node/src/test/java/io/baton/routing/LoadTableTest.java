package io.baton.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class LoadTableTest {
  @Test
  void reportsReplaceAndOwnChangesAdjust() {
    LoadTable table = new LoadTable();

    assertThat(table.activeConnections("a")).isZero();
    table.update("a", 10);
    table.increment("a");
    table.increment("a");
    assertThat(table.activeConnections("a")).isEqualTo(12);
    table.decrement("a");
    assertThat(table.activeConnections("a")).isEqualTo(11);
    table.update("a", 3);
    assertThat(table.activeConnections("a")).isEqualTo(3);
    table.remove("a");
    assertThat(table.activeConnections("a")).isZero();
  }

  @Test
  void neverGoesBelowZero() {
    LoadTable table = new LoadTable();
    table.decrement("a");

    assertThat(table.activeConnections("a")).isZero();
    assertThatThrownBy(() -> table.update("a", -1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void countsConcurrentChangesExactly() throws Exception {
    LoadTable table = new LoadTable();
    try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        done.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < 10_000; i++) table.increment("n" + (i % 4));
                }));
      }
      for (Future<?> f : done) f.get();
    }

    for (int i = 0; i < 4; i++) assertThat(table.activeConnections("n" + i)).isEqualTo(20_000);
  }
}
