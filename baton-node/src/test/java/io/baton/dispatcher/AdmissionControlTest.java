package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.dispatcher.AdmissionControl.Outcome;
import io.baton.dispatcher.AdmissionControl.Ticket;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Total and per-client caps on connections in the first-request phase. Pure logic. */
class AdmissionControlTest {
  private static final InetAddress A = ip("198.18.0.10");
  private static final InetAddress B = ip("198.18.0.20");
  private static final InetAddress C = ip("198.18.0.30");

  @Test
  void aClientOverItsCapIsRefusedWhileOthersAreAdmitted() {
    AdmissionControl admission = new AdmissionControl(10, 2);

    assertThat(admission.tryAdmit(A).outcome()).isEqualTo(Outcome.ADMITTED);
    assertThat(admission.tryAdmit(A).outcome()).isEqualTo(Outcome.ADMITTED);
    assertThat(admission.tryAdmit(A).outcome()).isEqualTo(Outcome.REFUSED_PER_CLIENT);
    assertThat(admission.tryAdmit(B).outcome()).isEqualTo(Outcome.ADMITTED);

    assertThat(admission.pending()).isEqualTo(3);
    assertThat(admission.pending(A)).isEqualTo(2);
    assertThat(admission.pending(B)).isEqualTo(1);
  }

  @Test
  void theTotalCapRefusesEveryClientOnceReached() {
    AdmissionControl admission = new AdmissionControl(3, 2);
    admission.tryAdmit(A);
    admission.tryAdmit(A);
    admission.tryAdmit(B);

    assertThat(admission.tryAdmit(C).outcome()).isEqualTo(Outcome.REFUSED_TOTAL);
    assertThat(admission.tryAdmit(B).outcome()).isEqualTo(Outcome.REFUSED_TOTAL);
    assertThat(admission.pending()).isEqualTo(3);
    assertThat(admission.pending(C)).isZero();
  }

  @Test
  void aRefusalByTheClientCapGivesBackTheReservedTotalPlace() {
    AdmissionControl admission = new AdmissionControl(3, 1);
    admission.tryAdmit(A);
    for (int i = 0; i < 5; i++) {
      assertThat(admission.tryAdmit(A).outcome()).isEqualTo(Outcome.REFUSED_PER_CLIENT);
    }
    assertThat(admission.pending()).isEqualTo(1);
    assertThat(admission.tryAdmit(B).admitted()).isTrue();
    assertThat(admission.tryAdmit(C).admitted()).isTrue();
  }

  @Test
  void releaseGivesThePlaceBackExactlyOnce() {
    AdmissionControl admission = new AdmissionControl(2, 2);
    Ticket first = admission.tryAdmit(A);
    Ticket second = admission.tryAdmit(A);

    first.release();
    first.release();
    first.release();

    assertThat(admission.pending()).isEqualTo(1);
    assertThat(admission.pending(A)).isEqualTo(1);
    second.release();
    assertThat(admission.pending()).isZero();
    assertThat(admission.clients())
        .as("no entry is kept for a client with nothing pending")
        .isZero();
  }

  @Test
  void releasingARefusedTicketChangesNothing() {
    AdmissionControl admission = new AdmissionControl(1, 1);
    Ticket admitted = admission.tryAdmit(A);
    Ticket refused = admission.tryAdmit(B);

    refused.release();

    assertThat(refused.admitted()).isFalse();
    assertThat(admission.pending()).isEqualTo(1);
    admitted.release();
    assertThat(admission.pending()).isZero();
  }

  @Test
  void concurrentAdmissionsNeverExceedTheCapsAndAllReleasesBalance() throws Exception {
    int threads = 8;
    int perThread = 20_000;
    AdmissionControl admission = new AdmissionControl(50, 10);
    InetAddress[] clients = new InetAddress[16];
    for (int i = 0; i < clients.length; i++) clients[i] = ip("198.18.0." + (10 + i));
    ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Integer>> admittedCounts = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int seed = t;
        admittedCounts.add(
            pool.submit(
                () -> {
                  start.await();
                  int admitted = 0;
                  List<Ticket> held = new ArrayList<>();
                  for (int i = 0; i < perThread; i++) {
                    InetAddress client = clients[(seed * 7 + i) % clients.length];
                    Ticket ticket = admission.tryAdmit(client);
                    if (ticket.admitted()) {
                      admitted++;
                      held.add(ticket);
                    }
                    if (admission.pending() > 50) violations.add("total " + admission.pending());
                    if (admission.pending(client) > 10)
                      violations.add(client + " " + admission.pending(client));
                    if (held.size() > 3 || (i % 5 == 0 && !held.isEmpty())) {
                      Ticket done = held.removeFirst();
                      done.release();
                      done.release(); // a second release must change nothing
                    }
                  }
                  held.forEach(Ticket::release);
                  return admitted;
                }));
      }
      start.countDown();
      int admittedTotal = 0;
      for (Future<Integer> f : admittedCounts) admittedTotal += f.get();
      assertThat(admittedTotal).as("some admissions happened").isGreaterThan(threads * 1000);
    } finally {
      pool.shutdownNow();
    }
    assertThat(violations).isEmpty();
    assertThat(admission.pending()).isZero();
    assertThat(admission.clients()).isZero();
  }

  @Test
  void perClientCapMustNotExceedTheTotal() {
    assertThatThrownBy(() -> new AdmissionControl(10, 11))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new AdmissionControl(0, 1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static InetAddress ip(String text) {
    try {
      return InetAddress.getByName(text);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
