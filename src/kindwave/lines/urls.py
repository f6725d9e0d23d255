from django.urls import path

from kindwave.lines import views

app_name = "lines"
urlpatterns = [
    path("", views.home, name="home"),
    path("order/", views.order, name="order"),
    path("lines/<int:line_id>/", views.detail, name="detail"),
    path("lines/<int:line_id>/cause/", views.change_cause, name="change_cause"),
    path("lines/<int:line_id>/activate/", views.activate, name="activate"),
]
