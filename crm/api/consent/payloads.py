"""What shops send to subscribe or unsubscribe a person (``POST /api/v1/subscriptions``)."""

from typing import Annotated, Literal

import msgspec
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from core.payloads import Payload, Problems, Text

# Where a shop says the person gave or withdrew consent; the unsubscribe link and the
# double opt-in are the CRM's own.
SubscriptionSource = Literal["checkout", "footer_form", "import", "admin", "api"]


class SubscriptionIn(Payload, kw_only=True):
    email: Text(254)
    consent: Annotated[bool, msgspec.Meta(description="true: subscribe; false: unsubscribe")]
    source: SubscriptionSource = "api"
    shown_text: Annotated[
        str, msgspec.Meta(max_length=2000, description="What the person was shown: the checkbox's or form's words")
    ] = ""

    def check(self, problems: Problems) -> None:
        self.email, self.shown_text = self.email.strip(), self.shown_text.strip()
        try:
            validate_email(self.email)
        except DjangoValidationError:
            problems.add("email", "Enter a valid email address.")
