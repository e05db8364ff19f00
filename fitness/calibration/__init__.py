"""`fitness calibrate` and `fitness import-trace`: service times and cold starts fitted from measurements
(`calibrate`, `fits`), CloudWatch exports read (`cloudwatch`), the workload rewritten keeping its comments
(`yaml_edit`)."""
