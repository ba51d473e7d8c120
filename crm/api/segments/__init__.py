"""The segments API: definitions, a rule's preview, members, a customer's segments:
serializers and views with their permissions. The preview's body, a segment rule, is the
campaigns app's own format (``campaigns.payloads``), which its admin builder posts too."""
