"""Clients for outside systems. No Flask, no database: explicit config in, plain data out."""
