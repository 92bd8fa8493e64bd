"""Connecting to PostgreSQL from the environment, with the password read from a secret file."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["read_secret", "connect_args", "connect"]


def read_secret(path: str) -> str:
    """The first line of a secret file (compose mounts them at /run/secrets/<name>)."""
    with open(path, encoding="utf-8") as f:
        return f.readline().rstrip("\r\n")


def connect_args() -> dict[str, Any]:
    """psycopg2.connect keywords from DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_PASSWORD_FILE."""
    return {"host": os.environ.get("DB_HOST", "db"), "port": int(os.environ.get("DB_PORT", "5432")),
            "dbname": os.environ.get("DB_NAME", "postgres"), "user": os.environ.get("DB_USER", "postgres"),
            "password": read_secret(os.environ.get("DB_PASSWORD_FILE", "/run/secrets/db_password")),
            "connect_timeout": 5, "application_name": os.environ.get("HOSTNAME", "app")}


def connect():
    """A new connection (psycopg2 comes from Debian's python3-psycopg2 in the image)."""
    import psycopg2
    return psycopg2.connect(**connect_args())
