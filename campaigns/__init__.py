"""Segments and campaigns. Not built yet (see the open issues)."""
