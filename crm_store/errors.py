"""Typed errors of the store; the CLI and chat turn them into one short line."""


class StoreError(Exception):
    """Base class for errors the store reports to a person."""


class NotInitialised(StoreError):
    """The data folder or the schema is missing: run `bankbot init`."""


class DataKeyError(StoreError):
    """The field-encryption key is missing, malformed or wrong."""


class UnknownStaff(StoreError):
    """No staff record with that id."""
