"""Customer metrics as plain numpy: purchase summaries, RFM, BG/NBD, Gamma-Gamma, CLV, stages.

Nothing here touches the database; ``customers.services.recompute_chunk`` feeds these functions
arrays from one SQL query per chunk and writes their results back in one statement.
"""
