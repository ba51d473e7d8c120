"""The manager's KPI dashboard (``/admin/dashboard/``).

- ``models``: the rollups, per day (and shop), that every figure is read from;
- ``rollups/``: how each rollup is computed from the source rows, one module per source;
- ``refresh``: which days to recompute and when (the recent days every ten minutes, the
  days of changed orders, a weekly rebuild), with the management command and tasks;
- ``figures/``: the KPIs, read from the rollups for a period and a shop (``Figure``: a value
  with its unit, how it is computed, whether the data is too thin, and a link to the
  customers or rows behind it);
- ``links``: those links (the filters the admin's lists accept);
- ``view``: the admin page, its filter form and the cache.
"""
