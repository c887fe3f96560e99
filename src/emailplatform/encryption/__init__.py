"""Encryption at rest, what is encrypted: stored files and the database's secrets; rotating the master key."""
