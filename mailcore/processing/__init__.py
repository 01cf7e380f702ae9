"""Processing: the handler registry and its schemas, the engine's per-message pipeline, filing,
and the failed-mail actions (inspect, validate, resubmit, rerun, reject) the console calls."""
