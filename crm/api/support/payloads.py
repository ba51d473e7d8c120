"""What shops send about support: a contact-form ticket and a product review (msgspec
structs, like ``crm.api.commerce.payloads``; errors name the field)."""

from typing import Annotated, Literal

import msgspec

from core.payloads import Payload, Problems, Text
from crm.api.commerce.payloads import CustomerIn
from support.feedback import NpsData
from support.reviews import ReviewData
from support.text import MAX_BODY
from support.tickets import TicketData

Channel = Literal["email", "chat", "phone", "social", "web_form", "api"]
PriorityIn = Literal["low", "normal", "high", "urgent"]


class TicketIn(Payload, kw_only=True):
    customer: CustomerIn
    subject: Text(255)
    message: Annotated[str, msgspec.Meta(max_length=MAX_BODY, description="The first message; HTML is sanitised")]
    channel: Channel = "web_form"
    priority: PriorityIn = "normal"
    order_external_id: Text(255) = ""
    external_id: Text(255) = ""

    def check(self, problems: Problems) -> None:
        self.subject = self.subject.strip()
        if not self.subject:
            problems.add("subject", "This field may not be blank.")
        if not self.message.strip():
            problems.add("message", "This field may not be blank.")

    def to_data(self) -> TicketData:
        return TicketData(
            subject=self.subject,
            body=self.message,
            channel=self.channel,
            priority=self.priority,
            order_external_id=self.order_external_id.strip(),
            external_id=self.external_id.strip(),
        )


class TicketMessageIn(Payload, kw_only=True):
    """A customer's follow-up on a ticket: ``POST /api/v1/tickets/{id}/messages``."""

    message: Annotated[str, msgspec.Meta(max_length=MAX_BODY, description="The customer's message; HTML is sanitised")]
    external_id: Annotated[
        str,
        msgspec.Meta(
            max_length=255,
            description="The shop's own id for the message, unique in the shop: a replay returns the message "
            "it added, with 200",
        ),
    ] = ""

    def check(self, problems: Problems) -> None:
        if not self.message.strip():
            problems.add("message", "This field may not be blank.")
        self.external_id = self.external_id.strip()


class ReviewIn(Payload, kw_only=True):
    customer: CustomerIn
    sku: Text(100)
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    title: Text(200) = ""
    body: Annotated[str, msgspec.Meta(max_length=MAX_BODY)] = ""
    external_id: Text(255) = ""

    def check(self, problems: Problems) -> None:
        if not self.sku.strip():
            problems.add("sku", "This field may not be blank.")

    def to_data(self) -> ReviewData:
        return ReviewData(
            sku=self.sku.strip(),
            rating=self.rating,
            title=self.title.strip(),
            body=self.body.strip(),
            external_id=self.external_id.strip(),
        )


class NpsIn(Payload, kw_only=True):
    customer: CustomerIn
    score: Annotated[int, msgspec.Meta(ge=0, le=10, description="0–10: 9–10 promoter, 7–8 passive, 0–6 detractor")]
    comment: Annotated[str, msgspec.Meta(max_length=MAX_BODY)] = ""
    external_id: Text(255) = ""

    def to_data(self) -> NpsData:
        return NpsData(score=self.score, comment=self.comment.strip(), external_id=self.external_id.strip())
