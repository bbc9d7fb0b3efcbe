/** The remote-worker library: serve handlers from Node.js over AckService.Work. */
export { NonRetryableError, RejectError, jobErrorFrom } from "./errors.js";
export {
  createWorker,
  type HandlerFn,
  type HandlerOptions,
  type Worker,
  type WorkerJob,
  type WorkerLogger,
  type WorkerOptions,
} from "./worker.js";
