class IdConverter:
    """A database id: at most 18 digits, so it always fits a bigint (else the URL is a 404)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


class ExternalIdConverter:
    """A shop's own id in a URL: up to 255 characters, no slash, no NUL."""

    regex = "[^/\x00]{1,255}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value
