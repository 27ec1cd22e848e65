"""`python -m bench [--quick] [--json] [--write-results]`: the whole suite (bench/suite.py).

Single benchmarks: `python -m bench.verify_cli` (HTTP verify vs a no-op POST),
`python -m bench.issuance` (bulk issuance vs raw eventsourcing).
"""

from bench.suite import main

if __name__ == "__main__":
    main()
