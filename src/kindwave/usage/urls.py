from django.urls import path

from kindwave.usage import views

app_name = "usage"
urlpatterns = [
    path("lines/<int:line_id>/usage/", views.my_usage, name="my_usage"),
]
