"""Conversions and attribution: touchpoints, the models' credits, marketing spend (docs/campaigns.md)."""
