"""Test helpers every test module imports (conftest.py holds only fixtures): `project` (builders,
twins, fresh clones), `scenario` (lifecycle positions: `at(p, "validated")`), `ledger`, `github`,
`config`, `crash` (in-process failure after every port write) and `chaos` (whole processes
SIGKILLed). No test module lives here: pytest would import this package a second time."""
