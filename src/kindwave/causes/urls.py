from django.urls import path

app_name = "causes"
urlpatterns: list = []
