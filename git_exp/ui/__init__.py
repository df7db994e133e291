"""Everything that shapes what the user sees: colors, pager, tables."""
