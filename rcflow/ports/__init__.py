"""Ports: the interfaces rcflow reaches the outside world through.

The forge (releases and assets), CI (workflow runs, checks), and `proc`, the one place a
subprocess is started and signals are handled. Adapters implement these; everything above
depends on them, never on an adapter.
"""
