"""The support API: tickets, reviews, NPS answers and review links: payloads, serializers
and views with their permissions."""
