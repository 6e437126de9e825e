"""The spec's registry dashboard: ``streamlit run service/registry_dashboard.py`` (root from ``$RECSYS_HOME``).

The whole app, all pages, is ``recsys dashboard``; this runs its Registry page alone.
"""

import sys
from pathlib import Path

try:
    from recsys.dashboard.views import registry
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from recsys.dashboard.views import registry

registry.main()
