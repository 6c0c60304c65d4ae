"""The one refusal type: a request the site declines, with a message for a person.

Services, the runtime and the workers raise ``Refused`` (or a subclass) when
the *input* is the problem: an unreadable photo, a full queue, an invalid
model file. Views, the API and the admin each turn it into a form message or
a JSON error in one place. Anything else that escapes (a ``ValueError`` from
a bug) is a 500, never shown as if it were the user's fault.

It lives in the runtime package because the runtime refuses images and
models too and must import nothing else of the project.
"""

from __future__ import annotations


class Refused(Exception):
    """``message`` is shown to the user as it is; ``code`` is for programs;
    ``status`` is the HTTP status the API answers with."""

    code = "refused"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message
