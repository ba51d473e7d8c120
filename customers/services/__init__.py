"""Writes for the customers app: plain typed functions, one module per domain."""
