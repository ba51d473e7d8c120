"""Cursor pages for every list of the API, with cursors that are read strictly."""

import binascii
import re
from base64 import b64decode
from urllib import parse

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination

# What ``encode_cursor`` writes with the "-id" ordering: an offset, a direction, an id.
_OFFSET = re.compile(r"[0-9]{1,4}")
_POSITION = re.compile(r"[0-9]{1,19}")
MAX_ID = 2**63 - 1  # a bigint


class CustomerCursorPagination(CursorPagination):
    """Cursor pagination: no COUNT(*) and no deep OFFSET, however many customers there are.

    A cursor or page size that cannot be read is a 400 naming the parameter, never a 404 or
    a 500: the cursor is the client's to keep, so anything in it is treated as input.
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not value.isascii() or not value.isdigit() or int(value) < 1:
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]})
        return min(int(value), self.max_page_size)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            text = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeError, binascii.Error, ValueError):
            raise self._invalid() from None
        if set(tokens) - {"o", "r", "p"} or any(len(values) != 1 for values in tokens.values()):
            raise self._invalid()
        offset, reverse, position = tokens.get("o", ["0"])[0], tokens.get("r", ["0"])[0], tokens.get("p", [None])[0]
        if not _OFFSET.fullmatch(offset) or int(offset) > self.offset_cutoff or reverse not in ("0", "1"):
            raise self._invalid()
        if position is not None and (not _POSITION.fullmatch(position) or int(position) > MAX_ID):
            raise self._invalid()
        return Cursor(offset=int(offset), reverse=reverse == "1", position=position)

    def _invalid(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: ["Invalid cursor: use the next or previous link as given."]})
