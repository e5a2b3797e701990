"""greenwave advisory service: FastAPI app over the vectorised core.

``api.main.create_app(settings)`` builds the app; ``greenwave serve`` (:mod:`api.serve`) runs it
with uvicorn.  Modules: :mod:`api.settings` (configuration), :mod:`api.state` (the swappable signal
timing and its persistence), :mod:`api.advisor` (position → advice, micro-batched),
:mod:`api.schemas` (request and response models), :mod:`api.errors` (error bodies),
:mod:`api.metrics` (Prometheus), :mod:`api.routes` (one router per topic).
"""
