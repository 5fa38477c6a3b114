"""Validators: ways to gather evidence that an RC commit is good."""
