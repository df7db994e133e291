"""`git exp ui`: a local web app over the same core as the commands.

    security   the per-server token and the Host/Origin checks every request passes
    changes    a cheap key of what the pages show (refs, queue, watched file stats)
    reads      the data the pages ask for: rows, one experiment, a comparison, logs, queue
    actions    what the pages may change, each the same core call as its command
    server     the HTTP server: routing, JSON, static files, nothing else
    static/    the page itself: HTML, CSS and a script, shipped in the package (no CDN)

Only `git exp ui` imports this package; no other command pays for it.
"""
