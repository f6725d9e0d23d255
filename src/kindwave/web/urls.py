from django.urls import path

from kindwave.web import views

app_name = "public"
urlpatterns = [
    path("", views.home, name="home"),
    path("plans/", views.plans, name="plans"),
]
