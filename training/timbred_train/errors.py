"""User-facing errors: printed as one line by the CLI, never as a stack trace."""


class UserError(Exception):
    """A problem with the user's input (file, folder, checkpoint) that the CLI reports in one line."""
