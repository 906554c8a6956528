"""The one error of the run layer."""


class RunError(Exception):
    """A run folder, a checkpoint or a config cannot be used; the message (Russian) says what is wrong."""
