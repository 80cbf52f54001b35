"""The ASGI entry point uvicorn imports (one app per worker process)."""

from app.gc_tuning import tune_for_serving
from app.main import create_app

app = create_app()
tune_for_serving()  # after the imports and the app: they are what the collector skips from now
