package dev.jobsvc.worker;

import dev.jobsvc.v1.WorkRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * The worker's ready messages as they go on the stream to a server that reads batches:
 * consecutive settlements and progress reports combined into one {@code WorkRequest.batch} of
 * at most the server's message limit. Nothing waits to fill a batch (the caller passes what is
 * ready now); order is kept (a heartbeat or a drain ends the batch before it); a lone item goes
 * as the plain message it was; an item over the budget alone goes alone.
 */
final class WorkBatches {

  /** The most messages taken from the outbox at once. */
  static final int MAX_BATCH = 256;
  /** What a repeated field's entry costs beyond its message's size (tag and length prefix). */
  static final int ENTRY_OVERHEAD = 8;
  /** The batch message's own envelope (its field's tag and length prefix). */
  static final int ENVELOPE = 16;

  private WorkBatches() {}

  static boolean batchable(WorkRequest request) {
    return switch (request.getKindCase()) {
      case ACK, NACK, REJECT, PROGRESS -> true;
      default -> false;
    };
  }

  static WorkRequest.Batch.Item item(WorkRequest request) {
    WorkRequest.Batch.Item.Builder item = WorkRequest.Batch.Item.newBuilder();
    switch (request.getKindCase()) {
      case ACK -> item.setAck(request.getAck());
      case NACK -> item.setNack(request.getNack());
      case REJECT -> item.setReject(request.getReject());
      case PROGRESS -> item.setProgress(request.getProgress());
      default -> throw new IllegalArgumentException("not a batch item: " + request.getKindCase());
    }
    return item.build();
  }

  /** {@code ready}, consecutive settlements and progress reports combined into batches of at most {@code budget} bytes. */
  static List<WorkRequest> combine(List<WorkRequest> ready, long budget) {
    List<WorkRequest> out = new ArrayList<>(ready.size());
    List<WorkRequest> group = new ArrayList<>();
    List<WorkRequest.Batch.Item> items = new ArrayList<>();
    long groupBytes = 0;
    long limit = budget - ENVELOPE;
    for (WorkRequest request : ready) {
      if (!batchable(request)) {
        flush(group, items, out);
        groupBytes = 0;
        out.add(request);
        continue;
      }
      WorkRequest.Batch.Item item = item(request);
      long size = item.getSerializedSize() + ENTRY_OVERHEAD;
      if (!group.isEmpty() && groupBytes + size > limit) {
        flush(group, items, out);
        groupBytes = 0;
      }
      group.add(request);
      items.add(item);
      groupBytes += size;
    }
    flush(group, items, out);
    return out;
  }

  private static void flush(List<WorkRequest> group, List<WorkRequest.Batch.Item> items, List<WorkRequest> out) {
    if (group.size() == 1) {
      out.add(group.get(0)); // alone, as it was
    } else if (!group.isEmpty()) {
      out.add(WorkRequest.newBuilder().setBatch(WorkRequest.Batch.newBuilder().addAllItems(items)).build());
    }
    group.clear();
    items.clear();
  }
}
