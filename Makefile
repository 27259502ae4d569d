# The two commands of the contract (DESIGN.md): `make run` and `make test`.
# The work is in scripts/, where traps can stop what the targets start.

.PHONY: run test lint bench package

run:
	bash scripts/run-local.sh

test:
	bash scripts/test.sh

# Benchmarks print figures and ratios against a baseline; they assert nothing about speed.
bench:
	bash scripts/bench.sh

# Every function of template.yaml as a Lambda zip (cargo-lambda, release), with its size.
package:
	bash scripts/package.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
