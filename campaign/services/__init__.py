"""Use-cases as plain functions: ids and values in, commit inside. The work a use-case owes is
recorded in its transaction (:mod:`campaign.outbox`) and enqueued when that commits; a
service never imports a job or a view."""


class ServiceError(Exception):
    """A request that cannot be carried out; the message is fit to show the person."""
