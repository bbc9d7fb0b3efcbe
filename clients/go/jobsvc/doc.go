// Package jobsvc is the Go client of jobsvc, a gRPC job runner backed by PostgreSQL.
//
// Dial a server, then submit jobs fire-and-forget, call them and wait for the
// result, or stream their events:
//
//	client, err := jobsvc.Dial(ctx, "127.0.0.1:50051")
//	if err != nil {
//		return err
//	}
//	defer client.Close()
//	result, err := client.Call(ctx, "resize_image", map[string]any{"url": "s3://a.png"}, jobsvc.Version("^2"))
//	var jobErr *jobsvc.JobFailedError
//	if errors.As(err, &jobErr) {
//		log.Printf("%s: %s", jobErr.Type, jobErr.Message)
//	}
//
// Methods return the generated messages of package jobsvcv1 (Job, JobEvent,
// HandlerInfo). Inputs are any value encoding/json can marshal (or a protobuf
// message, sent as google.protobuf.Any); [DecodePayload] and [Result.Decode] turn a
// JSON payload back into a Go value.
//
// Failed RPCs return gRPC status errors, so status.FromError and status.Code work
// on them; [ErrorDetails] reads the google.rpc ErrorInfo and BadRequest details
// that jobsvc attaches.
package jobsvc
