/** Small helpers: backoff delays and abortable sleeps. */

/** Exponential backoff with full jitter in [delay/2, delay]: retry 1 waits about `initialMs`. */
export function backoffDelay(retry: number, initialMs: number, maxMs: number): number {
  const delay = Math.min(maxMs, initialMs * 2 ** Math.max(0, retry - 1));
  return delay / 2 + (Math.random() * delay) / 2;
}

/** Resolve after `ms`, or reject with the signal's reason when it aborts first. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
