/**
 * Java client of jobsvc, a gRPC job runner backed by PostgreSQL.
 *
 * <p>{@link dev.jobsvc.client.JobsvcClient} is the entry point: submit jobs, call them and wait
 * for the result, stream their events (resuming dropped streams), and inspect, list and cancel
 * them. {@link dev.jobsvc.client.Payloads} converts between Java values, JSON and job payloads.
 * Failed RPCs are {@link dev.jobsvc.client.JobsvcException}s; the messages are the generated
 * {@code dev.jobsvc.v1} classes.
 */
package dev.jobsvc.client;
