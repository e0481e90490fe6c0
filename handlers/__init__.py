"""Intent parsing, one module per intent, and the reply guard."""
