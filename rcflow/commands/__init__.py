"""Commands: one function per user action (a step, status, doctor, init, rehearse), run in a
context that is the only place adapters are chosen and constructed.
"""
