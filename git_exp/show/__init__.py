"""Comparing experiments: the rows and columns of `git exp show`, and `git exp diff`.

collect reads which rows to show, commits reads each commit's params and
metrics once (memo), view filters, sorts and picks columns, where parses
--where, diff compares two rows. Rendering lives in git_exp/ui/table.py.
"""
