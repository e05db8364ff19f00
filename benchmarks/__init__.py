"""Speed benchmarks (DESIGN §5): run `python -m benchmarks.run`; never timed tests."""
