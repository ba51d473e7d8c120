"""The loyalty API: a customer's points, rewards, redeeming and consuming codes, referrals
and manual adjustments: payloads, serializers and views with their permissions."""
