"""git-exp: versioned machine-learning experiments inside Git."""

# A literal on purpose: reading package metadata costs ~40 ms at start-up,
# and `git exp` runs from hooks on every commit and checkout.
__version__ = "0.1.0"
