// Package worker runs jobsvc handlers written in Go as a remote worker.
//
// A Worker opens one AckService.Work stream to the server, announces the
// handler versions it serves, and runs the jobs the server assigns, up to
// Options.Concurrency at a time. Leases are kept alive by automatic heartbeats;
// a handler's context is cancelled when the server cancels its job; results are
// acknowledged, errors nacked (retried per the job's retry policy) or rejected.
//
//	w := worker.New(client, worker.Options{Concurrency: 4})
//	w.Handle("go_upper", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
//		var s string
//		if err := job.Decode(&s); err != nil {
//			return nil, worker.NonRetryable(err)
//		}
//		job.Progress(100, "done")
//		return strings.ToUpper(s), nil
//	})
//	err := w.Run(ctx) // until ctx is cancelled: then drains and returns
//
// A dropped stream is re-opened with backoff; running handlers carry on and
// settle on the new stream (attempt tokens are not tied to a stream), and the
// settlements the server had not confirmed are sent again first.
package worker
