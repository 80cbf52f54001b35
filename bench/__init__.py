"""The benchmark: the yardstick ("the ceiling"), wrk scripts and the runner behind `make bench`."""
