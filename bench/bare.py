"""The raw limits of the HTTP paths: a bare FastAPI app served by uvicorn as `okr serve` is.

    python -m bench.bare --port P --database-url URL [--tree-file F]

- ``POST /raw/check-ins``: one single-row INSERT … COMMIT (the raw write of the command path),
  from a psycopg pool sized like the product's, in a plain (thread-pool) route like the product's.
- ``GET /raw/tree``: the JSON bytes of a tree answer (``--tree-file``), from memory.
- ``GET /health``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from uuid import uuid4

import uvicorn
from fastapi import FastAPI, Request, Response
from psycopg_pool import ConnectionPool

from bench.raw import INSERT, create_raw_table
from infra.settings import Settings


def build(database_url: str, tree: bytes, payload: bytes) -> FastAPI:
    pool = ConnectionPool(database_url, min_size=2, max_size=Settings().pool_size, open=True)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/raw/check-ins", status_code=201)
    def raw_insert(request: Request) -> dict[str, object]:
        with pool.connection() as conn:
            row = conn.execute(
                INSERT, (uuid4(), 1, "bench:Raw.Inserted", payload), prepare=True
            ).fetchone()
        return {"id": row[0] if row else None}

    @app.get("/raw/tree")
    def raw_tree() -> Response:
        return Response(content=tree, media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tree-file", type=Path)
    parser.add_argument("--payload-size", type=int, default=400)
    args = parser.parse_args()
    create_raw_table(args.database_url)
    tree = args.tree_file.read_bytes() if args.tree_file else b"[]"
    app = build(args.database_url, tree, b"x" * args.payload_size)
    # The same server settings as api/serve.py.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        timeout_graceful_shutdown=10,
        proxy_headers=True,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
