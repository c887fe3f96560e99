"""Encryption at rest, the means: envelope encryption of files and values (a data key each, wrapped by a master
key). What is encrypted, and key rotation, live in encryption/."""
