"""One-shot migration job: apply migrations/*.sql in order, each once, then exit 0.

Applied files are recorded with a checksum in ``schema_migrations``; editing a file that
already ran is an error (write a new migration instead). A transaction-level advisory
lock makes two concurrent runs safe. Exits non-zero on any failure, so the app, which
waits with ``service_completed_successfully``, never starts against an old schema.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sys
from typing import Mapping, Sequence

__all__ = ["MigrationError", "Migration", "load", "pending", "main"]

LOCK_ID = 7_210_001
Migration = tuple[str, str, str]  # (file name, checksum, sql)


class MigrationError(Exception):
    """A migration that already ran was changed, or one failed."""


def load(directory: str) -> list[Migration]:
    """The migration files of ``directory``, sorted by name, with their checksums."""
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "*.sql"))):
        with open(path, encoding="utf-8") as f:
            sql = f.read()
        out.append((os.path.basename(path), hashlib.sha256(sql.encode()).hexdigest(), sql))
    return out


def pending(applied: Mapping[str, str], migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations still to apply; MigrationError if an applied one was edited or is missing."""
    names = {name for name, _, _ in migrations}
    missing = sorted(set(applied) - names)
    if missing:
        raise MigrationError(f"applied migration {missing[0]} is missing from the image")
    for name, checksum, _ in migrations:
        if name in applied and applied[name] != checksum:
            raise MigrationError(f"{name} was changed after it was applied; add a new migration instead")
    return [m for m in migrations if m[0] not in applied]


def _apply(conn, migrations: Sequence[Migration]) -> int:
    with conn, conn.cursor() as cur:  # one transaction: all pending migrations or none
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
        cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        cur.execute("SELECT name, checksum FROM schema_migrations")
        todo = pending(dict(cur.fetchall()), migrations)
        for name, checksum, sql in todo:
            print(f"migrate: applying {name}", flush=True)
            cur.execute(sql)
            cur.execute("INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)", (name, checksum))
        return len(todo)


def main() -> int:
    from db import connect
    migrations = load(os.environ.get("MIGRATIONS_DIR", os.path.join(os.path.dirname(__file__), "migrations")))
    try:
        conn = connect()
        try:
            count = _apply(conn, migrations)
        finally:
            conn.close()
    except MigrationError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # psycopg2's errors: report them in one line, fail the job
        print(f"migrate: failed: {type(exc).__name__}: {str(exc).strip()}", file=sys.stderr)
        return 1
    print(f"migrate: {count} applied, {len(migrations) - count} already up to date", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
