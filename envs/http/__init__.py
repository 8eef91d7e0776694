"""The ways in that bypass Django's request machinery for the hot operations: the REST fast
path and the WebSocket step protocol, over one table of operations (``dispatch``)."""
