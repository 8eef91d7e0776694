"""Everything that changes an instance: ``instances`` (create, look up, end, close, single
and vector alike), ``episodes`` (reset, step, sample, membership) and ``lifecycle`` (what
the server does to all of them: at start-up, when idle, at shutdown)."""
