"""Prometheus metrics of one server: a registry per JobsvcServer (tests run several
servers in one process), served over HTTP by a thread of prometheus_client.

`Metrics` records nothing and is what components hold when metrics are off: the cost
is one method call. `PrometheusMetrics` records. The queue gauges are computed by a
query only when scraped, and cached briefly, so an idle server that nobody scrapes
sends no extra query to the database; so is the queue depth by the labels an operator
names (a tenant), whose values are bounded: the most queued few, the rest as "other".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jobsvc.domain.jobs import JobState, LabelDepth, QueueStats, Transition

log = logging.getLogger("jobsvc.metrics")
T = TypeVar("T")

# Attempts run from milliseconds to an hour; end-to-end adds queueing and retries.
EXECUTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
END_TO_END_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
# Unary RPCs take a millisecond; Call, Stream and Lease wait for jobs.
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """Records nothing: the metrics of a server that has them off."""

    enabled = False

    def job_submitted(self, handler: str, version: str) -> None:
        """A new job was accepted."""

    def attempt_started(self, handler: str, version: str) -> None:
        """An executor or worker was given an attempt."""

    def transition(self, change: Transition) -> None:
        """The store ended an attempt or a job."""

    def lease_rescued(self, change: Transition) -> None:
        """The rescuer ended an attempt whose lease ran out."""

    def rpc(self, method: str, code: str, seconds: float) -> None:
        """One RPC ended with `code` after `seconds`."""


class PrometheusMetrics(Metrics):
    """The metrics of one server, in its own registry."""

    enabled = True

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        by_version = ["handler", "version"]
        r = self.registry
        self._submitted = Counter(
            "jobsvc_jobs_submitted", "Jobs accepted by Submit, Call or Stream", by_version, registry=r
        )
        self._started = Counter(
            "jobsvc_jobs_started", "Attempts started (claimed by an executor or worker)", by_version, registry=r
        )
        self._succeeded = Counter("jobsvc_jobs_succeeded", "Jobs that succeeded", by_version, registry=r)
        self._failed = Counter("jobsvc_jobs_failed", "Attempts that failed (retried or not)", by_version, registry=r)
        self._retried = Counter(
            "jobsvc_jobs_retried", "Failed attempts queued again for a retry", by_version, registry=r
        )
        self._dead = Counter("jobsvc_jobs_dead", "Jobs that ended FAILED (dead letters)", by_version, registry=r)
        self._cancelled = Counter("jobsvc_jobs_cancelled", "Running jobs that ended CANCELLED", by_version, registry=r)
        self._rescues = Counter(
            "jobsvc_lease_rescues", "Attempts ended because their lease ran out", by_version, registry=r
        )
        self._execution = Histogram(
            "jobsvc_job_execution_seconds", "Duration of attempts", ["handler"], buckets=EXECUTION_BUCKETS, registry=r
        )
        self._end_to_end = Histogram(
            "jobsvc_job_end_to_end_seconds",
            "From a job's creation to its terminal state",
            ["handler"],
            buckets=END_TO_END_BUCKETS,
            registry=r,
        )
        self._rpc = Histogram(
            "jobsvc_rpc_duration_seconds",
            "jobsvc RPCs by method and status code (the _count is the number of RPCs)",
            ["method", "code"],
            buckets=RPC_BUCKETS,
            registry=r,
        )
        self._workers = Gauge(
            "jobsvc_workers_connected", "Remote worker sessions (AckService Work streams)", registry=r
        )
        # labels() validates, builds a key and takes a lock (about 2 us); submits, transitions
        # and RPCs are hot paths, so the labelled children are kept here, by metric and labels.
        self._children: dict[tuple[Any, ...], Any] = {}
        self._http: Any = None

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def job_submitted(self, handler: str, version: str) -> None:
        self._child(self._submitted, handler, version).inc()

    def attempt_started(self, handler: str, version: str) -> None:
        self._child(self._started, handler, version).inc()

    def transition(self, change: Transition) -> None:
        handler, version = change.handler, change.version
        state = change.state
        if state is JobState.SUCCEEDED:
            self._child(self._succeeded, handler, version).inc()
        elif state is JobState.CANCELLED:
            self._child(self._cancelled, handler, version).inc()
        elif change.attempt_failed:
            self._child(self._failed, handler, version).inc()
            if state is JobState.QUEUED:
                self._child(self._retried, handler, version).inc()
        if state is JobState.FAILED:
            self._child(self._dead, handler, version).inc()
        if change.attempt_seconds is not None:
            self._child(self._execution, handler).observe(change.attempt_seconds)
        if state.terminal:
            self._child(self._end_to_end, handler).observe(change.job_seconds)

    def lease_rescued(self, change: Transition) -> None:
        self._child(self._rescues, change.handler, change.version).inc()
        self.transition(change)

    def rpc(self, method: str, code: str, seconds: float) -> None:
        self._child(self._rpc, method, code).observe(seconds)

    def watch_workers(self, count: Callable[[], int]) -> None:
        """The connected-workers gauge reads `count` when scraped."""
        self._workers.set_function(count)

    def watch_queue(
        self,
        read: Callable[[], list[QueueStats]],
        ttl: float = 2.0,
        *,
        read_labels: Callable[[], list[LabelDepth]] | None = None,
    ) -> None:
        """The queue gauges run `read` (a database query) when scraped, at most every `ttl`
        seconds; `read_labels`, when given, feeds jobsvc_queue_depth_by_label at the same
        refresh."""
        self.registry.register(_QueueCollector(read, ttl))
        if read_labels is not None:
            self.registry.register(_LabelDepthCollector(read_labels, ttl))

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics over HTTP from a daemon thread; the port listened on."""
        server, _ = start_http_server(port, host, registry=self.registry)
        self._http = server
        return int(server.server_address[1])

    def close(self) -> None:
        """Stop serving."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


# The metric label value of the label values past the most queued ones.
OTHER_VALUE = "other"


class _Cached(Generic[T]):
    """The last answer of `read` (a database query), read again at most every `ttl` seconds;
    a failed read keeps the previous answer (a scrape never fails for the database)."""

    def __init__(self, read: Callable[[], list[T]], ttl: float, what: str) -> None:
        self._read, self._ttl, self._what = read, ttl, what
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._value: list[T] = []

    def get(self) -> list[T]:
        with self._lock:  # scrapes may come in parallel; one query serves them
            if time.monotonic() - self._read_at >= self._ttl:
                try:
                    self._value = self._read()
                except Exception as exc:
                    log.warning("%s not read: %s", self._what, exc)
                self._read_at = time.monotonic()
            return list(self._value)


class _QueueCollector(Collector):
    """jobsvc_queue_* gauges, read from the database on scrape and cached for `ttl` seconds."""

    def __init__(self, read: Callable[[], list[QueueStats]], ttl: float) -> None:
        self._cache = _Cached(read, ttl, "queue metrics")
        self._lock = threading.Lock()
        # Handlers seen once keep being reported (as 0) after their queue empties.
        self._handlers: set[str] = set()

    def describe(self) -> Iterable[Any]:
        return _queue_families([], [])

    def collect(self) -> Iterable[Any]:
        stats = self._cache.get()
        with self._lock:
            self._handlers.update(s.handler for s in stats)
            handlers = sorted(self._handlers)
        return _queue_families(stats, handlers)


class _LabelDepthCollector(Collector):
    """jobsvc_queue_depth_by_label{label, value}: read on scrape, cached for `ttl` seconds.
    The query already bounds the values (the most queued few of each label, the rest
    folded into one row), so the series are at most names x (max_values + 1)."""

    def __init__(self, read: Callable[[], list[LabelDepth]], ttl: float) -> None:
        self._cache = _Cached(read, ttl, "queue depth by label")

    def describe(self) -> Iterable[Any]:
        return [_label_depth_family([])]

    def collect(self) -> Iterable[Any]:
        return [_label_depth_family(self._cache.get())]


def _label_depth_family(depths: list[LabelDepth]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "jobsvc_queue_depth_by_label",
        'Due queued jobs by the value of a label the operator named (--metric-labels); "other" folds the rest',
        labels=["label", "value"],
    )
    totals: dict[tuple[str, str], int] = {}
    for d in depths:
        key = (d.name, OTHER_VALUE if d.value is None else d.value)
        totals[key] = totals.get(key, 0) + d.due  # a value literally "other" joins the fold
    for (name, shown), due in sorted(totals.items()):
        family.add_metric([name, shown], due)
    return family


def _queue_families(stats: list[QueueStats], handlers: list[str]) -> Iterator[Any]:
    by_handler = {s.handler: s for s in stats}
    empty = QueueStats("", 0, 0, 0.0)
    due = GaugeMetricFamily(
        "jobsvc_queue_depth", "Queued jobs that are due (waiting for an executor)", labels=["handler"]
    )
    later = GaugeMetricFamily(
        "jobsvc_queue_scheduled", "Queued jobs due later (delays, retry backoff)", labels=["handler"]
    )
    age = GaugeMetricFamily(
        "jobsvc_queue_oldest_age_seconds",
        "How long the oldest due job has waited since it became due",
        labels=["handler"],
    )
    for handler in handlers:
        s = by_handler.get(handler, empty)
        due.add_metric([handler], s.due)
        later.add_metric([handler], s.scheduled)
        age.add_metric([handler], s.oldest_due_age)
    yield from (due, later, age)
