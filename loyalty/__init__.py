"""Loyalty programme: points ledger, tiers, rewards, referrals. Not built yet (see the open issues)."""
