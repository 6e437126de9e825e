"""Page script of the dashboard app (the page itself lives in ``recsys.dashboard.views.registry``)."""

from recsys.dashboard.views import registry

registry.render()
