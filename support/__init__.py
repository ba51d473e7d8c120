"""Support desk: tickets, SLAs, CSAT, reviews and NPS. Not built yet (see the open issues)."""
