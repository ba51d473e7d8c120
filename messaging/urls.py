from django.urls import path

from messaging import views

urlpatterns = [
    path("<str:token>", views.unsubscribe, name="messaging-unsubscribe"),
    path("confirm/<str:token>", views.subscription_confirm, name="messaging-subscription-confirm"),
]
