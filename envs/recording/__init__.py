"""Episode records: what is written of each episode, and when (``episodes``), and who
writes it (``writer``, through a small sink per database: ``sinks``)."""
