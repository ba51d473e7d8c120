"""Templates see plain values only: escaped in the HTML, empty when missing."""

import pytest

from messaging.rendering import TEMPLATES, default_brand, register_template, render
from messaging.services import message_queue

pytestmark = pytest.mark.django_db


def test_values_are_escaped_in_the_html_and_not_in_the_subject(settings):
    settings.EMAIL_FROM_NAME = "Tom & Jerry's"
    customer = {"first_name": "<script>alert(1)</script>", "name": "Ann <b>Lee</b>"}

    rendered = render("test", {"customer": customer}, default_brand())

    assert rendered.subject == "A test from Tom & Jerry's"
    assert "<script>" not in rendered.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "Ann &lt;b&gt;Lee&lt;/b&gt;" in rendered.html
    assert "Hello <script>alert(1)</script>," in rendered.text  # plain text: the characters themselves


def test_a_missing_name_renders_empty():
    rendered = render("order_confirmation", {}, default_brand())

    assert rendered.subject == "Your order from E-commerce CRM"
    assert "Thank you!" in rendered.text
    assert "None" not in rendered.html and "None" not in rendered.text


def test_an_unknown_template_is_refused_when_queued(customer):
    with pytest.raises(ValueError, match="No email template is called 'nope'"):
        message_queue(key="k", template="nope", customer_id=customer.pk)


def test_a_template_name_keeps_one_meaning():
    register_template("test", TEMPLATES["test"].description)  # the same again: fine
    with pytest.raises(ValueError, match="registered already"):
        register_template("test", "something else")


def test_the_context_holds_plain_values_never_models(customer, shop):
    message = message_queue(key="k", template="test", customer_id=customer.pk, shop_id=shop.pk)

    assert message.context["customer"] == {
        "first_name": "Ann",
        "last_name": "Lee",
        "name": "Ann Lee",
        "email": "ann@example.com",
    }
    assert message.context["shop"] == {"name": "Acme Coffee"}


def test_a_registered_value_is_worked_out_only_for_messages_whose_template_names_it(monkeypatch, customer):
    from customers.tests.factories import CustomerFactory
    from messaging import services

    bob = CustomerFactory(email="bob@example.com")
    asked: list[list[int]] = []

    def lucky_number(ids):
        asked.append(ids)
        return dict.fromkeys(ids, 7)

    monkeypatch.setitem(services.CONTEXT_SOURCES, "lucky_number", lucky_number)
    authored = {"subject": "Hi", "body": "<p>Your number: {{ lucky_number }}</p>"}
    plain, named = services.messages_queue(
        [
            services.MessageRequest(key="k1", template="test", customer_id=bob.pk),
            services.MessageRequest(
                key="k2", template="authored", customer_id=customer.pk, kind="marketing", context={"authored": authored}
            ),
        ]
    )

    assert asked == [[customer.pk]]  # once, for the message that prints it
    assert "lucky_number" not in plain.context and named.context["lucky_number"] == 7
