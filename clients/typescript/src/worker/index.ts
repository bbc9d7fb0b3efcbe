/** The remote-worker library: serve handlers from Node.js over AckService.Work. */
export {
  ChildJobFailedError,
  NonRetryableError,
  Parked,
  RejectError,
  SpawnRefusedError,
  jobErrorFrom,
} from "./errors.js";
export {
  createWorker,
  type ChildJob,
  type SpawnOptions,
  type HandlerFn,
  type HandlerOptions,
  type Worker,
  type WorkerJob,
  type WorkerLogger,
  type WorkerOptions,
} from "./worker.js";
