"""Discrete-event simulator of ML model hosting options.

`sim` is a library: it takes validated specs (models, traffic, catalog, option configs), simulates, and
returns result objects and arrays. It never prints, draws or imports `fitness`.
"""
