"""Page script of the dashboard app (the page itself lives in ``recsys.dashboard.views.training``)."""

from recsys.dashboard.views import training

training.render()
