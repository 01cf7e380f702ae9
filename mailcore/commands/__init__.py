"""One module per `mailcore` sub-command."""
