"""The operator console (issue 18): server-rendered pages over the store pairs a process serves.
Mounted by `order-sync run` (and `serve`) through connector.console.app.console_routes."""
