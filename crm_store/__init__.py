"""Customer store: SQL models, permissions, masking, encryption, audit and import."""
