from rest_framework.pagination import CursorPagination


class CustomerCursorPagination(CursorPagination):
    """Cursor pagination: no COUNT(*) and no deep OFFSET, however many customers there are."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
