"""Backups of the embedded deployment: `emailplatform backup` and `emailplatform restore`."""
