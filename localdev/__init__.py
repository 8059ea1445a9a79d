"""Local development tooling: the moto emulator, resource bootstrap and `make run`."""
