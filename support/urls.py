from django.urls import path

from support import views

urlpatterns = [
    path("csat/<str:token>", views.csat, name="support-csat"),
    path("review/<str:token>", views.review, name="support-review"),
]
