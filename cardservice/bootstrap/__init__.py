"""The composition roots: settings in, typed and wired parts out.

- `write.WriteSide`: the ledger, the catalog and every secret (the admin and holder API,
  the CLI, the worker).
- `read.ReadSide`: the merchant API, built from the views' database alone, no secret.
- `lifecycle.Lifecycle`: what each root starts, stops and checks (the probes' checks).
- `serve`: the apps and the background work `cardservice serve` and `worker` run.

Kept import-free so that importing the read side never loads the write side.
"""
