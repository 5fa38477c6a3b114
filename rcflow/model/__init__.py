"""Model: the pure description of a release — versions, configuration, the snapshot of what git
and the forge hold, the states derived from it, the ledger's events, and effects as data.

Nothing here performs I/O; it is what `observe` fills in and what the planners reason about.
"""
