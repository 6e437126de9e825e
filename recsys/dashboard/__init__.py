"""The Streamlit dashboards: one app, one page per concern, reading the stores through ``queries``."""
