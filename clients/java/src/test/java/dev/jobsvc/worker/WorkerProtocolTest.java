package dev.jobsvc.worker;

import static dev.jobsvc.worker.FakeAckServer.assign;
import static dev.jobsvc.worker.FakeAckServer.assignment;
import static dev.jobsvc.worker.FakeAckServer.ok;
import static dev.jobsvc.worker.FakeAckServer.singles;
import static dev.jobsvc.worker.FakeAckServer.welcome;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.client.JobsvcException;
import dev.jobsvc.client.Payloads;
import dev.jobsvc.v1.WorkRequest;
import dev.jobsvc.v1.WorkRequest.KindCase;
import dev.jobsvc.v1.WorkResponse;
import dev.jobsvc.v1.WorkerInfo;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Work stream protocol against a scripted server: no jobsvc needed. */
class WorkerProtocolTest {

  private FakeAckServer server;
  private final List<JobsvcWorker> workers = new ArrayList<>();

  @BeforeEach
  void startServer() throws Exception {
    server = new FakeAckServer();
  }

  @AfterEach
  void stopServer() {
    workers.forEach(JobsvcWorker::close);
    server.close();
  }

  private JobsvcWorkerBuilder builder() {
    return JobsvcWorker.builder()
        .target(server.target())
        .plaintext()
        .workerId("w1")
        .concurrency(4)
        .leaseDuration(Duration.ofSeconds(3))
        .shutdownGrace(Duration.ofSeconds(1)) // the fake server confirms only when told
        .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50));
  }

  private JobsvcWorker started(JobsvcWorkerBuilder builder) {
    JobsvcWorker worker = builder.build();
    workers.add(worker);
    worker.start();
    return worker;
  }

  @Test
  void helloAnnouncesTheHandlersAndAsksForBatches() throws Exception {
    started(builder().label("zone", "a").handle("h", "1.0.0", job -> null).handle("h", "2.0.0", job -> null));
    WorkerInfo hello = server.nextSession().next().getHello();
    assertEquals("w1", hello.getWorkerId());
    assertEquals(4, hello.getConcurrency());
    assertEquals(3, hello.getLeaseDuration().getSeconds());
    assertTrue(hello.getAcceptsBatches());
    assertEquals(Map.of("zone", "a"), hello.getLabelsMap());
    assertEquals(List.of("1.0.0", "2.0.0"), hello.getHandlersList().stream().map(h -> h.getVersion()).toList());
  }

  @Test
  void settlementsAreSentAgainAfterAReconnectUntilConfirmed() throws Exception {
    JobsvcWorker worker = started(builder().handle("double", "1.0.0", job -> 2 * (Long) job.input()));
    FakeAckServer.Session first = server.nextSession();
    assertEquals(KindCase.HELLO, first.next().getKindCase());
    first.send(welcome(true, 1 << 20, 10_000));
    first.send(assign(assignment("j1", "t1", "double")));
    WorkRequest ack = first.next();
    assertEquals(KindCase.ACK, ack.getKindCase());
    assertEquals(2L, Payloads.toJava(ack.getAck().getResult()));
    first.fail(Status.UNAVAILABLE.withDescription("cut")); // before the settled

    FakeAckServer.Session second = server.nextSession();
    assertEquals(KindCase.HELLO, second.next().getKindCase());
    // Before this session's welcome: the unconfirmed ack again, as a single message.
    assertEquals(ack, second.next());
    second.send(welcome(true, 1 << 20, 10_000));
    second.send(WorkResponse.newBuilder().setSettled(ok("j1", "t1")).build());
    assertTrue(worker.awaitConnected(Duration.ofSeconds(5)));
    assertEquals(2, worker.sessions());

    worker.close();
    assertEquals(KindCase.DRAIN, second.next().getKindCase());
    assertEquals(Status.Code.OK, second.ended.get(5, TimeUnit.SECONDS).getCode()); // half-closed
    worker.stopped().get(5, TimeUnit.SECONDS);
  }

  @Test
  void jobsRunOnAcrossAReconnectAndTheirLeasesAreAnnouncedAgain() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    JobsvcWorker worker = started(builder().handle("wait", "1.0.0", job -> {
      release.await();
      return "done";
    }));
    FakeAckServer.Session first = server.nextSession();
    first.next();
    first.send(welcome(true, 1 << 20, 10_000));
    first.send(assign(assignment("j1", "t1", "wait")));
    Thread.sleep(100);
    first.fail(Status.UNAVAILABLE);

    FakeAckServer.Session second = server.nextSession();
    assertEquals(KindCase.HELLO, second.next().getKindCase());
    WorkRequest heartbeat = second.next(true);
    assertEquals(KindCase.HEARTBEAT, heartbeat.getKindCase());
    assertEquals("j1", heartbeat.getHeartbeat().getLeases(0).getJobId());
    assertEquals("t1", heartbeat.getHeartbeat().getLeases(0).getAttemptToken());
    second.send(welcome(true, 1 << 20, 10_000));
    release.countDown();
    WorkRequest ack = second.next();
    assertEquals("j1", ack.getAck().getJobId());
    assertEquals("done", Payloads.toJava(ack.getAck().getResult()));
    second.send(WorkResponse.newBuilder().setSettled(ok("j1", "t1")).build());
    worker.close();
  }

  @Test
  void heartbeatsListTheLeasesAndACancelInterruptsTheHandlerWithoutASettlement() throws Exception {
    CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
    JobsvcWorker worker = started(builder().handle("block", "1.0.0", job -> {
      try {
        Thread.sleep(30_000);
      } catch (InterruptedException e) {
        interrupted.complete(job.isCancelled());
      }
      return "late";
    }));
    FakeAckServer.Session session = server.nextSession();
    session.next();
    session.send(welcome(true, 1 << 20, 50));
    session.send(assign(assignment("j1", "t1", "block")));
    WorkRequest heartbeat;
    do {
      heartbeat = session.next(true);
    } while (heartbeat.getHeartbeat().getLeasesCount() == 0);
    assertEquals("j1", heartbeat.getHeartbeat().getLeases(0).getJobId());

    session.send(WorkResponse.newBuilder()
        .setCancel(WorkResponse.Cancel.newBuilder().setJobId("j1").setAttemptToken("t1").setReason("test"))
        .build());
    assertTrue(interrupted.get(5, TimeUnit.SECONDS), "isCancelled() was false");
    worker.close(); // idle at once: the cancelled job is not waited for
    List<WorkRequest> rest = new ArrayList<>(session.received);
    assertTrue(rest.stream().noneMatch(r -> r.getKindCase() == KindCase.ACK || r.getKindCase() == KindCase.NACK), rest.toString());
    assertTrue(rest.stream().anyMatch(r -> r.getKindCase() == KindCase.DRAIN));
  }

  @Test
  void readySettlementsAndProgressGoAsBatchesWithinTheMessageLimit() throws Exception {
    long limit = 2_000;
    JobsvcWorker worker = started(builder().handle("chatty", "1.0.0", job -> {
      for (int i = 0; i < 50; i++) {
        job.progress(i, "step " + i);
      }
      return "x".repeat(100);
    }));
    FakeAckServer.Session session = server.nextSession();
    session.next();
    session.send(welcome(true, limit, 10_000));
    session.send(assign(assignment("a", "ta", "chatty"), assignment("b", "tb", "chatty"),
        assignment("c", "tc", "chatty"), assignment("d", "td", "chatty")));
    Set<String> acked = new HashSet<>();
    int batches = 0;
    int progress = 0;
    while (acked.size() < 4) {
      WorkRequest request = session.next();
      if (request.getKindCase() == KindCase.BATCH) {
        batches++;
        assertTrue(request.getSerializedSize() <= limit, "a batch over the limit: " + request.getSerializedSize());
        assertTrue(request.getBatch().getItemsCount() > 1, "a batch of one");
      }
      for (WorkRequest single : singles(request)) {
        switch (single.getKindCase()) {
          case ACK -> acked.add(single.getAck().getJobId());
          case PROGRESS -> progress++;
          default -> throw new AssertionError(single.toString());
        }
      }
    }
    assertEquals(200, progress); // none lost, none after its job's ack (per job, in order)
    assertTrue(batches > 0, "200 progress reports and 4 acks, and no batch");
    session.send(WorkResponse.newBuilder().setSettledBatch(WorkResponse.SettledBatch.newBuilder()
        .addItems(ok("a", "ta")).addItems(ok("b", "tb")).addItems(ok("c", "tc")).addItems(ok("d", "td"))).build());
    worker.close();
    worker.stopped().get(10, TimeUnit.SECONDS);
  }

  @Test
  void noBatchesToAServerWhoseWelcomeDoesNotOfferThem() throws Exception {
    started(builder().handle("chatty", "1.0.0", job -> {
      for (int i = 0; i < 50; i++) {
        job.progress(i, "step " + i);
      }
      return null;
    }));
    FakeAckServer.Session session = server.nextSession();
    session.next();
    session.send(welcome(false, 0, 10_000));
    session.send(assign(assignment("a", "ta", "chatty"), assignment("b", "tb", "chatty")));
    int acks = 0;
    while (acks < 2) {
      WorkRequest request = session.next();
      assertFalse(request.getKindCase() == KindCase.BATCH, "a batch to a server that reads none");
      acks += request.getKindCase() == KindCase.ACK ? 1 : 0;
    }
  }

  @Test
  void failuresAreNackedWithTheirTypeMessageAndStackTrace() throws Exception {
    started(builder()
        .handle("boom", "1.0.0", job -> {
          throw new IllegalArgumentException("bad input");
        })
        .handle("final", "1.0.0", job -> {
          throw new NonRetryableException("QuotaExceeded", "no quota");
        }));
    FakeAckServer.Session session = server.nextSession();
    session.next();
    session.send(welcome(false, 0, 10_000));
    session.send(assign(assignment("a", "ta", "boom")));
    WorkRequest nack = session.next();
    assertEquals("java.lang.IllegalArgumentException", nack.getNack().getError().getType());
    assertEquals("bad input", nack.getNack().getError().getMessage());
    assertEquals(1, nack.getNack().getError().getAttempt());
    assertFalse(nack.getNack().getError().getNonRetryable());
    assertTrue(nack.getNack().getError().getTraceback().contains("WorkerProtocolTest"));
    session.send(assign(assignment("b", "tb", "final")));
    nack = session.next();
    assertEquals("QuotaExceeded", nack.getNack().getError().getType());
    assertTrue(nack.getNack().getError().getNonRetryable());
    session.send(assign(assignment("c", "tc", "unknown")));
    nack = session.next();
    assertEquals("jobsvc.HandlerNotServed", nack.getNack().getError().getType());
  }

  @Test
  void aRefusalEndsRunWithoutReconnecting() throws Exception {
    JobsvcWorker worker = builder().handle("h", "1.0.0", job -> null).build();
    workers.add(worker);
    CompletableFuture<JobsvcException> thrown = CompletableFuture.supplyAsync(() -> assertThrows(JobsvcException.class, worker::run));
    FakeAckServer.Session session = server.nextSession();
    session.next();
    session.fail(Status.INVALID_ARGUMENT.withDescription("bad schema"));
    assertEquals(Status.Code.INVALID_ARGUMENT, thrown.get(10, TimeUnit.SECONDS).code());
    assertEquals(1, worker.sessions());
  }

  @Test
  void theBuilderChecksItsSettings() {
    assertThrows(IllegalStateException.class, () -> JobsvcWorker.builder().target("x:1").build());
    assertThrows(IllegalStateException.class, () -> JobsvcWorker.builder().handle("h", "1", job -> null).build());
    assertThrows(IllegalArgumentException.class, () -> JobsvcWorker.builder().concurrency(0));
    assertThrows(
        IllegalArgumentException.class,
        () -> JobsvcWorker.builder().handle("h", "1", job -> null).handle("h", "1", job -> null));
  }
}
