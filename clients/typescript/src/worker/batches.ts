/**
 * Batches on the Work stream, the worker's side: the messages ready to go, consecutive
 * settlements and progress reports sent as one `batch` (to a server whose welcome says
 * `acceptsBatches`).
 *
 * Nothing waits to fill a batch: the sender takes the message it was waiting for and
 * whatever else is queued at that moment. At low load every message goes alone, with no
 * added latency; under load one message carries many. Order is kept: a message of another
 * kind (a heartbeat, a drain) ends the batch before it and goes alone. A batch never
 * exceeds the byte budget (the server's message limit); an item over the budget goes
 * alone, as it would have without batches. (The same design as the Python worker's.)
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  WorkRequest_Batch_ItemSchema,
  WorkRequestSchema,
  type WorkRequest,
  type WorkRequest_Batch_Item,
} from "../gen/jobsvc/v1/ack_service_pb.js";

/** The most messages one batch takes from the queue (a bound on the work done between two writes). */
export const MAX_BATCH = 256;
/** What a repeated field's entry costs beyond its message's size (tag and length prefix). */
const ENTRY_OVERHEAD = 8;
/** What the WorkRequest around the batch costs (its tag and length prefix). */
const BATCH_OVERHEAD = 16;

/** True for the messages a batch can carry. */
function batchable(request: WorkRequest): boolean {
  const kind = request.kind.case;
  return kind === "ack" || kind === "nack" || kind === "reject" || kind === "progress";
}

function asItem(request: WorkRequest): WorkRequest_Batch_Item {
  // batchable() checked the case; the item's oneof has the same cases and value types.
  return create(WorkRequest_Batch_ItemSchema, { kind: request.kind as WorkRequest_Batch_Item["kind"] });
}

/**
 * `ready`, in order, with consecutive settlements and progress reports combined into
 * `batch` messages of at most `budget` bytes. A lone one goes as it was.
 */
export function batchedRequests(ready: readonly WorkRequest[], budget: number): WorkRequest[] {
  const out: WorkRequest[] = [];
  const limit = budget - BATCH_OVERHEAD;
  let group: WorkRequest_Batch_Item[] = [];
  let originals: WorkRequest[] = [];
  let groupBytes = 0;
  const flush = () => {
    if (originals.length === 1) out.push(originals[0]!);
    else if (originals.length > 1)
      out.push(create(WorkRequestSchema, { kind: { case: "batch", value: { items: group } } }));
    group = [];
    originals = [];
    groupBytes = 0;
  };
  for (let i = 0; i < ready.length; i++) {
    const request = ready[i]!;
    if (!batchable(request)) {
      flush();
      out.push(request);
      continue;
    }
    // A settlement with nothing batchable next to it goes alone: no need to size it.
    if (originals.length === 0 && !(i + 1 < ready.length && batchable(ready[i + 1]!))) {
      out.push(request);
      continue;
    }
    const item = asItem(request);
    const size = toBinary(WorkRequest_Batch_ItemSchema, item).byteLength + ENTRY_OVERHEAD;
    if (originals.length > 0 && groupBytes + size > limit) flush();
    group.push(item);
    originals.push(request);
    groupBytes += size;
  }
  flush();
  return out;
}
