"""StreamquantError and the conversion of returned sq_error values into it."""
from ._lib import lib

OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_IO = 2
ERR_FORMAT = 3
ERR_UNSUPPORTED = 4
ERR_OUT_OF_MEMORY = 5
ERR_NUMERIC = 6
ERR_CANCELLED = 7
ERR_NOT_FOUND = 8
ERR_DEVICE = 9
ERR_STATE = 10
ERR_INTERNAL = 99


class StreamquantError(Exception):
    """An error returned by libstreamquant: `code` is the pinned SQ_ERR_* value, `message` the library's text."""

    def __init__(self, code, message):
        super().__init__(f"{lib.sq_error_code_name(code).decode()}: {message}")
        self.code = code
        self.message = message

    @property
    def code_name(self):
        return lib.sq_error_code_name(self.code).decode()


def check(err):
    """Raise StreamquantError for a non-NULL sq_error* (and free it); return None otherwise."""
    if not err:
        return
    try:
        code = lib.sq_error_code(err)
        message = lib.sq_error_message(err).decode("utf-8", "replace")
    finally:
        lib.sq_error_free(err)
    raise StreamquantError(code, message)
