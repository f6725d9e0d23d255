"""The community's pages, under ``/community/``: the social network (``views.social``) and
projects and donations (``views.projects``)."""

from kindwave.community.views import projects, social

app_name = "community"
urlpatterns = [*social.urlpatterns, *projects.urlpatterns]
