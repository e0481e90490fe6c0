"""Channel adapters, dispatcher, CLI and app wiring."""
