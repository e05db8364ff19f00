"""`fitness export`: the simulated configuration as deployable resources (`build`): boto3 request bodies and
CloudFormation (`aws`, `cloudformation`), written out with TODO.md (`deployment`)."""
