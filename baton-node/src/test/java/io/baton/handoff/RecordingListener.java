package io.baton.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.FabricMessage.Closed;
import io.baton.handoff.FabricMessage.LoadReport;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A {@link HandoffClient.Listener} that queues what it hears; tests take with a timeout. */
final class RecordingListener implements HandoffClient.Listener {
  static final long WAIT_SECONDS = 10;

  final BlockingQueue<Closed> closed = new LinkedBlockingQueue<>();
  final BlockingQueue<LoadReport> loadReports = new LinkedBlockingQueue<>();
  final BlockingQueue<Boolean> states = new LinkedBlockingQueue<>();
  final BlockingQueue<FabricMessage.Inventory> inventories = new LinkedBlockingQueue<>();

  @Override
  public void onInventory(FabricMessage.Inventory i) {
    inventories.add(i);
  }

  @Override
  public void onClosed(Closed c) {
    closed.add(c);
  }

  @Override
  public void onLoadReport(LoadReport r) {
    loadReports.add(r);
  }

  @Override
  public void onConnectionState(boolean up) {
    states.add(up);
  }

  /** Waits for the next connection state change and checks it. */
  void expectState(boolean up) throws InterruptedException {
    assertThat(states.poll(WAIT_SECONDS, TimeUnit.SECONDS)).as("connection state").isEqualTo(up);
  }

  static <T> T take(BlockingQueue<T> queue) throws InterruptedException {
    T t = queue.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(t).as("nothing arrived within %d s", WAIT_SECONDS).isNotNull();
    return t;
  }
}
