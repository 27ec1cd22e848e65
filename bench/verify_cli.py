"""`python -m bench.verify_cli`: the verify benchmark alone (the whole suite: `python -m bench`).

python -m bench.verify_cli [--seconds S] [--rounds N] [--concurrency C] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os

from bench.verify import Options, describe_server, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.verify_cli", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per server")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--cards", type=int, default=300, help="distinct valid cards cycled")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    opts = Options(
        seconds=args.seconds,
        rounds=args.rounds,
        concurrency=args.concurrency,
        cards=args.cards,
        backends=tuple(b for b in args.backends.split(",") if b),
    )
    print(
        f"verify benchmark: {describe_server()}, load from a separate process, "
        f"{opts.concurrency} connections, {opts.rounds}×{opts.seconds:.0f}s per server, "
        f"{os.cpu_count()} CPUs"
    )
    results = run(opts)
    print(
        "verify = repeat scans (verified-signature memo on); "
        "cold = every signature checked (CARDSERVICE_SIGNATURE_MEMO=0)"
    )
    print(
        f"{'backend':<10}{'no-op req/s':>13}{'verify req/s':>14}{'ratio':>8}"
        f"{'cold req/s':>12}{'ratio':>8}{'verify p99':>12}{'cold p99':>10}"
    )
    for r in results:
        print(
            f"{r['backend']:<10}{r['noop_rps']:>13.0f}{r['verify_rps']:>14.0f}"
            f"{r['ratio']:>8.2f}{r['cold_rps']:>12.0f}{r['cold_ratio']:>8.2f}"
            f"{r['verify_p99_ms']:>10.1f}ms{r['cold_p99_ms']:>8.1f}ms"
        )
        if r["not_valid_responses"]:
            print(f"  warning: {r['not_valid_responses']} responses were not 'valid'")
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
