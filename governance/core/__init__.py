"""Shared kernel: database, identity, authorization, errors, pagination, crypto, object storage."""
