# The two commands of the contract (DESIGN.md): `make run` and `make test`.
# The work is in scripts/, where traps can stop what the targets start.

.PHONY: run test lint

run:
	bash scripts/run-local.sh

test:
	bash scripts/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
