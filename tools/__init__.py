"""Developer and operator tooling: build the .mar, run TorchServe and the web app locally.

Used by the Makefile (`make archive`, `make serve`, `make stop`), the tests' fixtures and the
benchmarks, so that all of them start the server the same way."""
