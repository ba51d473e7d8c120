"""Merging duplicate customers (docs/merge.md): the table of every relation to a customer
and what a merge does with it (``relations``), the merge and its undo (``services``), and
the reads of the admin's pages: the preview, whether an undo is safe, suggested duplicates
(``selectors``, ``suggestions``)."""
