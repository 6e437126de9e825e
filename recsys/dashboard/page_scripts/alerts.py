"""Page script of the dashboard app (the page itself lives in ``recsys.dashboard.views.alerts``)."""

from recsys.dashboard.views import alerts

alerts.render()
