"""Workload generators: arrival times, key popularity, sizes, TTLs, all as numpy arrays."""

from simlab.workload.arrivals import arrival_times_s
from simlab.workload.distributions import sample
from simlab.workload.keyspace import KeySampler, sample_ttls_s

__all__ = ["KeySampler", "arrival_times_s", "sample", "sample_ttls_s"]
