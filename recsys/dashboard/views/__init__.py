"""One module per dashboard page; each has ``render()`` (used by the app) and ``main()`` (standalone)."""
