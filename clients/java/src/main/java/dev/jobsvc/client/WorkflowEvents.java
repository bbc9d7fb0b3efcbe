package dev.jobsvc.client;

import dev.jobsvc.v1.StreamWorkflowRequest;
import dev.jobsvc.v1.StreamWorkflowResponse;
import dev.jobsvc.v1.WorkflowServiceGrpc;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A workflow's events ({@link JobsvcClient#streamWorkflow}) as a blocking {@link Iterator}: every
 * step's events in the workflow's one sequence until the workflow has finished. When the connection
 * drops (UNAVAILABLE), the stream is re-opened after the last sequence read, backing off per the
 * policy; the count of re-opens in a row is bounded by it and resets with each event read. Any
 * other error is thrown from {@link #hasNext()} as a {@link JobsvcException}.
 */
public final class WorkflowEvents implements Iterator<StreamWorkflowResponse>, AutoCloseable {

  private final WorkflowServiceGrpc.WorkflowServiceBlockingStub stub;
  private final String id;
  private final RpcRetryPolicy policy;
  private long lastSequence;
  private int failures;
  private Context.CancellableContext context;
  private Iterator<StreamWorkflowResponse> responses;
  private StreamWorkflowResponse next;
  private boolean ended;

  WorkflowEvents(
      WorkflowServiceGrpc.WorkflowServiceBlockingStub stub, String id, long afterSequence, RpcRetryPolicy policy) {
    if (afterSequence < 0) {
      throw new IllegalArgumentException("afterSequence must not be negative");
    }
    this.stub = stub;
    this.id = id;
    this.lastSequence = afterSequence;
    this.policy = policy;
  }

  /** The sequence of the last event read (or the {@code afterSequence} it started from). */
  public long lastSequence() {
    return lastSequence;
  }

  @Override
  public boolean hasNext() {
    while (next == null && !ended) {
      if (responses == null) {
        open();
      }
      try {
        if (responses.hasNext()) {
          StreamWorkflowResponse event = responses.next();
          if (event.getSequence() > lastSequence) { // never a duplicate
            lastSequence = event.getSequence();
            failures = 0;
            next = event;
          }
        } else {
          close(); // the server ends the stream when the workflow has finished
        }
      } catch (StatusRuntimeException e) {
        cancelCall();
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || failures >= policy.maxRetries()) {
          ended = true;
          throw JobsvcException.from(e);
        }
        failures++;
        backOff();
      }
    }
    return next != null;
  }

  @Override
  public StreamWorkflowResponse next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the workflow's stream has ended");
    }
    StreamWorkflowResponse event = next;
    next = null;
    return event;
  }

  /** Stops reading: the open stream is cancelled. */
  @Override
  public void close() {
    ended = true;
    cancelCall();
  }

  private void open() {
    context = Context.current().withCancellation();
    StreamWorkflowRequest request =
        StreamWorkflowRequest.newBuilder().setId(id).setAfterSequence(lastSequence).build();
    Context previous = context.attach();
    try {
      responses = stub.streamWorkflow(request);
    } finally {
      context.detach(previous);
    }
  }

  private void cancelCall() {
    if (context != null) {
      context.cancel(null);
      context = null;
    }
    responses = null;
  }

  private void backOff() {
    long nanos = policy.backoff(failures).toNanos();
    try {
      TimeUnit.NANOSECONDS.sleep((long) (nanos * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble())));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      ended = true;
      throw JobsvcException.from(Status.CANCELLED.withDescription("interrupted").asRuntimeException());
    }
  }
}
