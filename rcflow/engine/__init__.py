"""Engine: the machinery that turns data into action — `observe` reads the world into a
snapshot, the executor applies a plan's effects one by one, re-checking each, and the validation
runners, release assets and registries do the work those effects name.
"""
