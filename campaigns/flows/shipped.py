"""The ready-made flows every shop starts with, switched off: a marketer reads them, changes
the copy or the delays, and switches them on.

``shipped_flows_install`` gives a shop the ones it lacks (matched by name, so a flow renamed
or deleted by the staff is not brought back under its old name … unless the name is free
again). It runs after ``migrate`` for every shop (``crm.apps``), from ``seed_demo``, and as
``manage.py install_shipped_flows``.
"""

from __future__ import annotations

from django.db import transaction

from campaigns.flows import steps as step_kinds
from campaigns.flows.triggers import params_clean as trigger_params_clean
from campaigns.models import Email, Flow, FlowStep, StepKind, TriggerKind, Variant
from customers.models import Shop
from messaging.authored import authored_problems

HOUR = 60
DAY = 24 * HOUR

NOT_ORDERED = {"match": "all", "children": [{"field": "orders_count", "operator": "eq", "value": 0}]}


def _email(subject: str, preheader: str, body: str) -> tuple:
    return (StepKind.SEND_EMAIL, {}, {"subject": subject, "preheader": preheader, "body": body})


SHIPPED: list[dict] = [
    {
        "name": "Welcome series",
        "description": "Three emails over a week after someone signs up for the newsletter (the shop's "
        "newsletter_signup event); stops when they buy.",
        "trigger": TriggerKind.EVENT,
        "trigger_params": {"event_type": "newsletter_signup", "delay_minutes": 0},
        "exit_on_order": True,
        "steps": [
            _email(
                "Welcome, {{ customer.first_name|default:'friend' }}",
                "Thanks for joining us: here is what to expect.",
                "<p>Hi {{ customer.first_name|default:'there' }},</p><p>thanks for signing up. Every few weeks "
                "we will send you what is new, what is back in stock and the odd offer for subscribers "
                "only.</p><p>Have a look around the shop whenever you like.</p>",
            ),
            (StepKind.WAIT, {"minutes": 2 * DAY}, None),
            _email(
                "Our best sellers, picked for you",
                "What other customers come back for.",
                "<p>Hi {{ customer.first_name|default:'there' }},</p><p>not sure where to start? These are "
                "the products our customers buy again and again.</p>"
                "{% for product in recommended_products %}<p>{{ product.name }}</p>{% endfor %}",
            ),
            (StepKind.WAIT, {"minutes": 3 * DAY}, None),
            (StepKind.CONDITION, {"rule": NOT_ORDERED, "no": "exit"}, None),
            _email(
                "Still thinking it over?",
                "Questions? Just reply to this email.",
                "<p>Hi {{ customer.first_name|default:'there' }},</p><p>if you have a question about a "
                "product, sizes or delivery, reply to this email: a person reads every answer.</p>",
            ),
        ],
    },
    {
        "name": "Abandoned cart",
        "description": "An hour after a cart is abandoned, a reminder; a day later a second one. An order "
        "meanwhile cancels it. Variant B of the first email tests a shorter subject; 10 % are held out.",
        "trigger": TriggerKind.EVENT,
        "trigger_params": {"event_type": "cart_abandoned", "delay_minutes": HOUR},
        "exit_on_order": True,
        "reentry": "every_n_days",
        "reentry_days": 7,
        "steps": [
            (
                StepKind.SEND_EMAIL,
                {},
                {
                    "subject": "You left something in your cart, {{ customer.first_name|default:'friend' }}",
                    "preheader": "We saved it for you.",
                    "body": "<p>Hi {{ customer.first_name|default:'there' }},</p><p>your cart is still "
                    "waiting. Come back and finish your order whenever you are ready.</p>",
                    "variants": [("B", "Still in your cart")],
                    "holdout_percent": 10,
                },
            ),
            (StepKind.WAIT, {"minutes": DAY}, None),
            _email(
                "Your cart is about to expire",
                "Last reminder, promise.",
                "<p>Hi {{ customer.first_name|default:'there' }},</p><p>we cannot keep your cart forever. "
                "If something stopped you (delivery costs, a size question), reply and tell us.</p>",
            ),
        ],
    },
    {
        "name": "Post-purchase review request",
        "description": "Seven days after an order is fulfilled, ask for a review through the desk's signed "
        "review link.",
        "trigger": TriggerKind.FULFILLED,
        "trigger_params": {"days": 7},
        "exit_on_order": False,
        "reentry": "every_n_days",
        "reentry_days": 30,
        "steps": [
            (StepKind.WAIT, {"until_hour": 10}, None),
            _email(
                "How was your order, {{ customer.first_name|default:'friend' }}?",
                "Two minutes, and it helps other customers choose.",
                "<p>Hi {{ customer.first_name|default:'there' }},</p><p>your order arrived a week ago. "
                "Would you tell other customers what you think?</p>"
                '<p><a href="{{ review_link }}">Review your order</a></p>',
            ),
        ],
    },
    {
        "name": "Win-back",
        "description": "When a customer becomes at risk or lapsed: we miss you, then 200 bonus points a "
        "week later if they have not come back.",
        "trigger": TriggerKind.STAGE_CHANGED,
        "trigger_params": {"stages": ["at_risk", "lapsed"]},
        "exit_on_order": True,
        "reentry": "every_n_days",
        "reentry_days": 180,
        "steps": [
            _email(
                "We miss you, {{ customer.first_name|default:'friend' }}",
                "A lot has changed since your last visit.",
                "<p>Hi {{ customer.first_name|default:'there' }},</p><p>it has been a while. Here is what "
                "is new since your last order.</p>"
                "{% for product in recommended_products %}<p>{{ product.name }}</p>{% endfor %}",
            ),
            (StepKind.WAIT, {"minutes": 7 * DAY}, None),
            (StepKind.BONUS_POINTS, {"points": 200, "reason": "Welcome back"}, None),
            _email(
                "200 points, on us",
                "They are already in your account.",
                "<p>Hi {{ customer.first_name|default:'there' }},</p><p>we have added 200 points to your "
                "account: you now have {{ points }}. Spend them on your next order.</p>",
            ),
        ],
    },
    {
        "name": "Birthday",
        "description": "On the customer's birthday, at 9 in the morning their time: a greeting and 100 points.",
        "trigger": TriggerKind.DATE,
        "trigger_params": {"field": "birthday", "offset_days": 0},
        "exit_on_order": False,
        "reentry": "every_n_days",
        "reentry_days": 300,
        "steps": [
            (StepKind.WAIT, {"until_hour": 9}, None),
            (StepKind.BONUS_POINTS, {"points": 100, "reason": "Happy birthday"}, None),
            _email(
                "Happy birthday, {{ customer.first_name|default:'friend' }}!",
                "A small present from us inside.",
                "<p>Happy birthday, {{ customer.first_name|default:'there' }}!</p><p>We have added 100 "
                "points to your account as a present. Have a lovely day.</p>",
            ),
        ],
    },
    {
        "name": "Points expiring",
        "description": "When points are about to expire (loyalty's warning), remind the customer to spend them.",
        "trigger": TriggerKind.POINTS_EXPIRING,
        "trigger_params": {"delay_minutes": 0},
        "exit_on_order": True,
        "reentry": "every_n_days",
        "reentry_days": 25,
        "steps": [
            _email(
                "Your points expire soon",
                "Use them before they go.",
                "<p>Hi {{ customer.first_name|default:'there' }},</p><p>you have {{ points }} points, and "
                "some of them expire soon. Spend them on your next order before they do.</p>",
            ),
        ],
    },
]


def _check(spec: dict) -> None:
    """Shipped copy is held to the rules the admin holds a marketer's copy to."""
    trigger_params_clean(spec["trigger"], spec["trigger_params"])
    for kind, params, content in spec["steps"]:
        step_kinds.params_clean(kind, params, has_email=content is not None)
        for source in [content["subject"], content["body"]] if content else []:
            if problems := authored_problems(source):
                raise ValueError(f"{spec['name']}: {problems}")


def shipped_flows_install(*, shop: Shop) -> int:
    """The shipped flows this shop lacks, created switched off; returns how many."""
    have = set(Flow.objects.filter(shop=shop).values_list("name", flat=True))
    made = 0
    for spec in SHIPPED:
        if spec["name"] in have:
            continue
        _check(spec)
        with transaction.atomic():
            flow = Flow.objects.create(
                shop=shop,
                name=spec["name"],
                description=spec["description"],
                trigger=spec["trigger"],
                trigger_params=spec["trigger_params"],
                exit_on_order=spec["exit_on_order"],
                reentry=spec.get("reentry", "once"),
                reentry_days=spec.get("reentry_days", 30),
                active=False,
            )
            for position, (kind, params, content) in enumerate(spec["steps"]):
                email = None
                if content:
                    email = Email.objects.create(
                        shop=shop,
                        name=f"{spec['name']}: {content['subject'][:120]}",
                        holdout_percent=content.get("holdout_percent", 0),
                    )
                    Variant.objects.create(
                        email=email,
                        label="A",
                        subject=content["subject"],
                        preheader=content["preheader"],
                        body=content["body"],
                    )
                    for label, subject in content.get("variants", []):
                        Variant.objects.create(
                            email=email,
                            label=label,
                            subject=subject,
                            preheader=content["preheader"],
                            body=content["body"],
                        )
                FlowStep.objects.create(flow=flow, position=position * 10, kind=kind, params=params, email=email)
        made += 1
    return made


def shipped_flows_install_all() -> int:
    return sum(shipped_flows_install(shop=shop) for shop in Shop.objects.order_by("pk"))
