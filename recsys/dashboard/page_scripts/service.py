"""Page script of the dashboard app (the page itself lives in ``recsys.dashboard.views.service``)."""

from recsys.dashboard.views import service

service.render()
