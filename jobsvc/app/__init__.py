"""Use cases without gRPC: jobs, schedules and maintenance, on the storage port."""
