"""A/B tests and holdouts: the random draw of each customer's arm, and the statistics."""
