"""Looking after the cache as a whole: what every ref, backup and work tree needs.

    gc       `git exp gc`: delete cache objects nothing references any more
    gcscope  what a narrower gc keeps (DVC's `gc -w/-a/-T/--date`)
    fsck     `git exp fsck`: is every needed object in the cache, intact?

Above experiments and sharing: these read their refs and name them.
"""
