"""Use-cases as plain functions: ids and values in, commit inside, jobs enqueued after it."""


class ServiceError(Exception):
    """A request that cannot be carried out; the message is fit to show the person."""
