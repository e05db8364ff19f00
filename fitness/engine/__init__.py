"""The decision engine: run an option (`run`), apply the constraints, right-size each option (`queueing`,
`sizing`, `windows`), score it on the five fitness functions (`functions`), rank (`ranking`, `result`),
replicate, measure headroom and sensitivity; `recommend` orchestrates them."""
