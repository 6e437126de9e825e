"""Page script of the dashboard app (the page itself lives in ``recsys.dashboard.views.embeddings``)."""

from recsys.dashboard.views import embeddings

embeddings.render()
