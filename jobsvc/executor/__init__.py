"""In-process executors: lease jobs from the store and run registered handlers."""

from jobsvc.executor.runner import Executor, ExecutorConfig

__all__ = ["Executor", "ExecutorConfig"]
