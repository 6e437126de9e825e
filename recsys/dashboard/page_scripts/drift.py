"""Page script of the dashboard app (the page itself lives in ``recsys.dashboard.views.drift``)."""

from recsys.dashboard.views import drift

drift.render()
