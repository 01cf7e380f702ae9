"""Processing: the handler registry and its schemas, the engine's per-message pipeline, filing,
the failed-mail actions (inspect, validate, resubmit, rerun, reject) the console calls, and the
vocabularies they speak (`vocabulary`: Status, RouteVia, ErrorKind, EventKind, SchemaError)."""
