"""One module per verb: `configure(parser)` adds its options, `run(args, console)`
turns them into keyword arguments, makes one core call and renders the result.

A module may define DESCRIPTION (the manual's description, plain paragraphs)
and EXAMPLES (lines) for its manual page, rendered by `python -m git_exp.manpage`
(git_exp/manpage.py).
"""
