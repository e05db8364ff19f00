"""The workload boundary: a workload file read and validated once (`spec`), and the scenario drawn from it
(`scenario`). The names a script or notebook needs are handed on here."""

from fitness.workload.spec import Workload, load_workload, parse_workload, workload_schema

__all__ = ["Workload", "load_workload", "parse_workload", "workload_schema"]
