"""In-process executors: run registered handlers on the jobs their dispatch Lane claims."""

from jobsvc.executor.runner import Executor, ExecutorConfig

__all__ = ["Executor", "ExecutorConfig"]
