"""Use cases without gRPC: jobs, schedules, maintenance and dispatch (the one claim loop,
lease keeper and settle path), on the storage port."""
