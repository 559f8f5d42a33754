"""The pure core of jobsync: aggregates, events, rules and discovery. No I/O here."""
