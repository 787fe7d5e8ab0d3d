"""Orderly's HTTP adapter: ``orderly_http.app.create_app`` builds the FastAPI app."""
